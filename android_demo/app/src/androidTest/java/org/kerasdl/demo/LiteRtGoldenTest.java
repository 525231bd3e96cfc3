package org.kerasdl.demo;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import android.content.Context;
import android.util.Base64;
import androidx.test.ext.junit.runners.AndroidJUnit4;
import androidx.test.platform.app.InstrumentationRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.kerasdl.core.ContractException;
import org.kerasdl.core.Json;
import org.kerasdl.core.ModelContract;
import org.kerasdl.core.StepRunner;
import org.kerasdl.core.StreamingSession;

/**
 * LiteRT on the phone against Python: the golden model (core's test resources, packaged as test assets) gives
 * the logits LiteRT gave in Python at every sampled step, and the session samples Python's tokens.
 * Shipped as source: it needs a device or an emulator (./gradlew :app:connectedAndroidTest).
 */
@RunWith(AndroidJUnit4.class)
public class LiteRtGoldenTest {
    private static Context context() {
        return InstrumentationRegistry.getInstrumentation().getContext();  // the test APK's assets
    }

    private static String text(String asset) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (InputStream in = context().getAssets().open(asset)) {
            byte[] buffer = new byte[1 << 16];
            for (int n; (n = in.read(buffer)) > 0; ) {
                bytes.write(buffer, 0, n);
            }
        }
        return new String(bytes.toByteArray(), StandardCharsets.UTF_8);
    }

    private static LiteRtStepRunner runner() throws IOException {
        ModelContract contract = ModelContract.parse(text("golden/model.contract.json"));
        return new LiteRtStepRunner(LiteRtStepRunner.readAsset(context(), "golden/model.tflite"), contract, 1);
    }

    @Test
    @SuppressWarnings("unchecked")
    public void liteRtOnThePhoneSamplesPythonsTokens() throws IOException {
        Map<String, Object> doc = (Map<String, Object>) Json.parse(text("golden/cases.json"));
        try (LiteRtStepRunner liteRt = runner()) {
            for (Object item : (List<Object>) doc.get("cases")) {
                Map<String, Object> c = (Map<String, Object>) item;
                int[] prompt = Json.intArray(c.get("prompt"));
                int[] expected = Json.intArray(c.get("tokens"));
                List<Object> logits = (List<Object>) c.get("logits_base64");
                int promptSteps = prompt.length - 1;
                int[] call = {0};
                StepRunner checking = (token, state, out, next) -> {
                    liteRt.step(token, state, out, next);
                    int sampled = call[0]++ - promptSteps;
                    if (sampled >= 0) {
                        float[] python = new float[out.length];
                        ByteBuffer.wrap(Base64.decode((String) logits.get(sampled), Base64.DEFAULT))
                                .order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(python);
                        for (int i = 0; i < out.length; i++) {
                            // Different CPUs' int8 kernels may round differently; the logits agree to far better.
                            assertEquals("case " + c.get("name") + " step " + sampled + " logit " + i, python[i], out[i], 1e-3f);
                        }
                    }
                };
                StreamingSession session = new StreamingSession(liteRt.contract(), checking);
                Object topK = c.get("top_k");
                session.start(prompt, ((Json.Number) c.get("temperature")).doubleValue(),
                        topK == null ? 0 : ((Json.Number) topK).intValue(), ((Json.Number) c.get("seed")).longValue());
                int[] tokens = new int[expected.length];
                for (int i = 0; i < tokens.length; i++) {
                    tokens[i] = session.next();
                }
                assertArrayEquals("case " + c.get("name"), expected, tokens);
            }
        }
    }

    @Test
    public void aContractForAnotherModelIsRejectedBeforeTheFirstStep() throws IOException {
        String json = text("golden/model.contract.json");
        // Claim a 64-unit state for a 32-unit model: the #43965 byte-size mismatch, caught by name.
        String wrong = json.replace("\"bytes\": 128", "\"bytes\": 256").replace("[1, 32]", "[1, 64]");
        ModelContract contract = ModelContract.parse(wrong);
        ByteBuffer model = LiteRtStepRunner.readAsset(context(), "golden/model.tflite");
        ContractException e = assertThrows(ContractException.class, () -> new LiteRtStepRunner(model, contract, 1));
        assertTrue(e.getMessage(), e.getMessage().contains("input \"state\": the model contract says float32 [1, 64] "
                + "(256 bytes) but the model has float32 [1, 32] (128 bytes)"));
    }
}
