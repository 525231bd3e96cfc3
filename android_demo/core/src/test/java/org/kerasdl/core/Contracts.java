package org.kerasdl.core;

/** Contract documents for tests, in the form Python's keras_dl.export.contract writes. */
final class Contracts {
    private Contracts() {}

    static String tensor(String name, String dtype, String shape, long bytes) {
        return "{\"name\": \"" + name + "\", \"dtype\": \"" + dtype + "\", \"shape\": " + shape
                + ", \"shape_signature\": " + shape + ", \"bytes\": " + bytes + "}";
    }

    /** A byte-level step model with a float32 [1, units] state, as export_lm_tflite writes its contract. */
    static String streamingLm(int units) {
        return streamingLm(units, tensor("token", "int32", "[1]", 4));
    }

    static String streamingLm(int units, String tokenInput) {
        String state = "[1, " + units + "]";
        return "{\"format\": \"keras_dl.model_contract\", \"version\": 1,\n"
                + " \"model\": {\"file\": \"model.tflite\", \"sha256\": "
                + "\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\", \"bytes\": 0},\n"
                + " \"signature\": \"serving_default\",\n"
                + " \"inputs\": [" + tensor("state", "float32", state, 4L * units) + ", " + tokenInput + "],\n"
                + " \"outputs\": [" + tensor("logits", "float32", "[1, 256]", 1024) + ", "
                + tensor("state", "float32", state, 4L * units) + "],\n"
                + " \"state\": [{\"input\": \"state\", \"output\": \"state\", \"dtype\": \"float32\", \"shape\": " + state
                + ", \"bytes\": " + 4L * units + ", \"initial\": \"zeros\"}],\n"
                + " \"tokenizer\": {\"type\": \"bytes\", \"vocab_size\": 256},\n"
                + " \"sampling\": {\"algorithm\": \"keras_dl.categorical/1\", \"generator\": \"splitmix64\", "
                + "\"temperature\": 0.8, \"top_k\": null, \"seed\": 0, \"token_input\": \"token\", "
                + "\"logits_output\": \"logits\"}}";
    }
}
