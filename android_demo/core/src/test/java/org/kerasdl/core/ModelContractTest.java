package org.kerasdl.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.nio.ByteBuffer;
import java.util.List;
import org.junit.Test;

public class ModelContractTest {
    private static void assertRejected(String json, String... fragments) {
        ContractException e = assertThrows(ContractException.class, () -> ModelContract.parse(json));
        for (String fragment : fragments) {
            assertTrue("\"" + fragment + "\" not in: " + e.getMessage(), e.getMessage().contains(fragment));
        }
    }

    @Test
    public void parsesAStreamingLanguageModelContract() {
        ModelContract c = ModelContract.parse(Contracts.streamingLm(16));
        assertEquals("model.tflite", c.modelFile);
        assertEquals("serving_default", c.signature);
        assertEquals(2, c.inputs.size());
        assertEquals(64, c.input("state").bytes);
        assertEquals(1, c.states.size());
        assertEquals("state", c.states.get(0).output);
        assertEquals(256, c.logitsSize());
        assertEquals("bytes", c.tokenizer);
        assertEquals(0.8, c.sampling.temperature, 0.0);
        assertEquals(0, c.sampling.topK);
        assertTrue(c.isStreamingLanguageModel());
    }

    @Test
    public void theInt64TokenOfIssue43965IsNamedWithBothByteSizes() {
        // The model takes int32 [1] (4 bytes); an app sending a long[] token sends 8 bytes.
        ModelContract c = ModelContract.parse(Contracts.streamingLm(16));
        ContractException e = assertThrows(ContractException.class,
                () -> c.checkInput(TensorSpec.of("token", "int64", 1)));
        assertTrue(e.getMessage(), e.getMessage().contains("input \"token\""));
        assertTrue(e.getMessage(), e.getMessage().contains("int64 [1] (8 bytes)"));
        assertTrue(e.getMessage(), e.getMessage().contains("int32 [1] (4 bytes)"));
        assertTrue(e.getMessage(), e.getMessage().contains(
                "Cannot copy to a TensorFlowLite tensor with 4 bytes from a Java Buffer with 8 bytes"));
        c.checkInput(TensorSpec.of("token", "int32", 1));
        c.checkInput(TensorSpec.of("state", "float32", 1, 16));
        assertThrows(ContractException.class, () -> c.checkInput(TensorSpec.of("state", "float32", 1, 32)));
    }

    @Test
    public void checksTheInterpretersTensorsBothWays() {
        ModelContract c = ModelContract.parse(Contracts.streamingLm(16));
        List<TensorSpec> outputs = List.of(TensorSpec.of("logits", "float32", 1, 256), TensorSpec.of("state", "float32", 1, 16));
        c.checkTensors(List.of(TensorSpec.of("state", "float32", 1, 16), TensorSpec.of("token", "int32", 1)), outputs);
        // A model re-exported with 32 units next to the old contract.
        ContractException e = assertThrows(ContractException.class, () -> c.checkTensors(
                List.of(TensorSpec.of("state", "float32", 1, 32), TensorSpec.of("token", "int32", 1)), outputs));
        assertTrue(e.getMessage(), e.getMessage().contains("input \"state\": the model contract says float32 [1, 16] "
                + "(64 bytes) but the model has float32 [1, 32] (128 bytes)"));
        e = assertThrows(ContractException.class,
                () -> c.checkTensors(List.of(TensorSpec.of("state", "float32", 1, 16)), outputs));
        assertTrue(e.getMessage(), e.getMessage().contains("lists input \"token\" but the model"));
        e = assertThrows(ContractException.class, () -> c.checkTensors(List.of(TensorSpec.of("state", "float32", 1, 16),
                TensorSpec.of("token", "int32", 1), TensorSpec.of("extra", "int8", 2)), outputs));
        assertTrue(e.getMessage(), e.getMessage().contains("[extra]"));
    }

    @Test
    public void checksTheModelBytesHash() {
        ModelContract c = ModelContract.parse(Contracts.streamingLm(16));
        c.checkModelBytes(ByteBuffer.allocate(0));  // the contract's sha256 is that of no bytes
        ContractException e = assertThrows(ContractException.class, () -> c.checkModelBytes(ByteBuffer.allocate(3)));
        assertTrue(e.getMessage(), e.getMessage().contains("3 bytes but its contract says 0"));
    }

    @Test
    public void rejectsInconsistentOrUnsupportedContracts() {
        String good = Contracts.streamingLm(16);
        assertRejected("{", "not valid JSON");
        assertRejected("[]", "must be a JSON object");
        assertRejected(good.replace("keras_dl.model_contract", "other"), "not a keras_dl model contract");
        assertRejected(good.replace("\"version\": 1", "\"version\": 2"), "version 2 is not supported");
        assertRejected(Contracts.streamingLm(16, Contracts.tensor("token", "int32", "[1]", 8)),
                "\"token\" has 8 bytes in the contract, but int32 [1] is 4 bytes");
        assertRejected(Contracts.streamingLm(16, Contracts.tensor("token", "int64", "[1]", 8)),
                "token_input \"token\" must be int32 [1]");
        assertRejected(good.replace("\"type\": \"bytes\"", "\"type\": \"sentencepiece\""), "tokenizer \"sentencepiece\"");
        assertRejected(good.replace("keras_dl.categorical/1", "top_p/2"), "sampling algorithm \"top_p/2\"");
        assertRejected(good.replace("\"zeros\"", "\"ones\""), "\"initial\": \"zeros\"");
        assertRejected(good.replace("\"logits_output\": \"logits\"", "\"logits_output\": \"probs\""),
                "logits_output \"probs\" is not among");
        assertRejected(good.replace("\"dtype\": \"float32\", \"shape\": [1, 16], \"shape_signature\"",
                "\"dtype\": \"float9\", \"shape\": [1, 16], \"shape_signature\""), "unknown dtype \"float9\"");
    }

    @Test
    public void aContractWithoutSamplingIsNotAStreamingModel() {
        String plain = Contracts.streamingLm(16).replaceAll("\"sampling\": \\{[^}]*\\}", "\"sampling\": null");
        ModelContract c = ModelContract.parse(plain);
        assertNull(c.sampling);
        ContractException e = assertThrows(ContractException.class, c::requireStreamingLanguageModel);
        assertTrue(e.getMessage(), e.getMessage().contains("no sampling section"));
    }
}
