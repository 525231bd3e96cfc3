package org.kerasdl.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.Test;

/**
 * Python (keras_dl.decoding.stream_tokens over LiteRT) and Java (StreamingSession + Sampler) pick the same tokens
 * from the same logits. The vectors come from {@code export/android.py --golden DIR}: the logits LiteRT produced at
 * each sampled step of each case, and the tokens Python sampled. The directory is the system property
 * {@code golden.dir}, by default the committed {@code golden/} test resources.
 */
public class GoldenVectorsTest {
    private static Path dir() {
        String property = System.getProperty("golden.dir");
        if (property != null) {
            return Paths.get(property);
        }
        try {
            return Paths.get(GoldenVectorsTest.class.getResource("/golden/cases.json").toURI()).getParent();
        } catch (Exception e) {
            throw new AssertionError("no golden/cases.json on the test classpath and no -Dgolden.dir", e);
        }
    }

    private static String read(Path path) throws IOException {
        return new String(Files.readAllBytes(path), StandardCharsets.UTF_8);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> cases() throws IOException {
        return (Map<String, Object>) Json.parse(read(dir().resolve("cases.json")));
    }

    private static float[] floats(String base64) {
        ByteBuffer bytes = ByteBuffer.wrap(Base64.getDecoder().decode(base64)).order(ByteOrder.LITTLE_ENDIAN);
        float[] values = new float[bytes.remaining() / 4];
        bytes.asFloatBuffer().get(values);
        return values;
    }

    /** Replays the recorded logits, checking that the session feeds the tokens Python fed. */
    static final class ReplayRunner implements StepRunner {
        private final List<Object> logits;
        private final int[] expectedFed;
        private int call;
        private int sampledSteps;
        private final int promptSteps;

        ReplayRunner(List<Object> logits, int[] expectedFed, int promptSteps) {
            this.logits = logits;
            this.expectedFed = expectedFed;
            this.promptSteps = promptSteps;
        }

        @Override
        public void step(int token, float[][] state, float[] out, float[][] nextState) {
            assertEquals("token fed at call " + call, expectedFed[call], token);
            call++;
            if (call <= promptSteps) {
                java.util.Arrays.fill(out, 0f);  // the prompt's logits are not sampled from
                return;
            }
            float[] recorded = floats((String) logits.get(sampledSteps++));
            assertEquals(out.length, recorded.length);
            System.arraycopy(recorded, 0, out, 0, out.length);
        }
    }

    @Test
    @SuppressWarnings("unchecked")
    public void javaSamplesThePythonTokensFromTheLiteRtLogits() throws IOException {
        Map<String, Object> doc = cases();
        assertEquals("keras_dl.golden_vectors", doc.get("format"));
        ModelContract contract;
        try (InputStream in = new FileInputStream(dir().resolve((String) doc.get("contract")).toFile())) {
            contract = ModelContract.read(in);
        }
        contract.requireStreamingLanguageModel();
        contract.checkModelBytes(ByteBuffer.wrap(Files.readAllBytes(dir().resolve(contract.modelFile))));
        List<Object> cases = (List<Object>) doc.get("cases");
        assertTrue("at least 3 cases", cases.size() >= 3);
        int sampled = 0;
        for (Object item : cases) {
            Map<String, Object> c = (Map<String, Object>) item;
            int[] prompt = Json.intArray(c.get("prompt"));
            int[] tokens = Json.intArray(c.get("tokens"));
            int[] fed = new int[prompt.length - 1 + tokens.length];
            System.arraycopy(prompt, 0, fed, 0, prompt.length);
            System.arraycopy(tokens, 0, fed, prompt.length, tokens.length - 1);
            List<Object> logits = (List<Object>) c.get("logits_base64");
            ReplayRunner runner = new ReplayRunner(logits, fed, prompt.length - 1);
            StreamingSession session = new StreamingSession(contract, runner);
            Object topK = c.get("top_k");
            session.start(prompt, ((Json.Number) c.get("temperature")).doubleValue(),
                    topK == null ? 0 : ((Json.Number) topK).intValue(), ((Json.Number) c.get("seed")).longValue());
            for (int i = 0; i < tokens.length; i++) {
                assertEquals("case " + c.get("name") + ", sampled token " + i, tokens[i], session.next());
                sampled++;
            }
        }
        assertTrue(sampled >= 30);
    }

    @Test
    @SuppressWarnings("unchecked")
    public void strictMathExpIsPythonsFdlibmPortBitForBit() throws IOException {
        List<Object> pairs = (List<Object>) cases().get("exp");
        assertTrue(pairs.size() >= 100);
        for (Object pair : pairs) {
            List<Object> p = (List<Object>) pair;
            double x = Double.longBitsToDouble(Long.parseUnsignedLong((String) p.get(0), 16));
            long expected = Long.parseUnsignedLong((String) p.get(1), 16);
            assertEquals("exp(" + x + ")", expected, Double.doubleToRawLongBits(StrictMath.exp(x)));
        }
    }
}
