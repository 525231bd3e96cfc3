package org.kerasdl.core;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The model contract ({@code model.contract.json}, written by Python's {@code keras_dl.export.contract}) beside a
 * {@code .tflite} file: which tensors the model takes and returns, which of them carry state between steps, the
 * tokenizer and the sampling algorithm.
 *
 * <p>Parsing validates the document; {@link #checkTensors} and {@link #checkInput} compare it with what the
 * interpreter reports and what the app will send, so a mismatch is a message naming the tensor rather than
 * LiteRT's "Cannot copy to a TensorFlowLite tensor with X bytes from a Java Buffer with Y bytes"
 * (tensorflow/tensorflow#43965) on the first call.
 */
public final class ModelContract {
    public static final String FORMAT = "keras_dl.model_contract";
    public static final int VERSION = 1;

    /** A state tensor: fed to {@code input}, read back from {@code output}, zeros at the start. */
    public static final class State {
        public final String input;
        public final String output;
        public final TensorSpec spec;

        State(String input, String output, TensorSpec spec) {
            this.input = input;
            this.output = output;
            this.spec = spec;
        }
    }

    /** The contract's sampling section: the algorithm and its defaults. */
    public static final class Sampling {
        public final double temperature;
        /** 0: all tokens. */
        public final int topK;
        public final long seed;
        public final String tokenInput;
        public final String logitsOutput;

        Sampling(double temperature, int topK, long seed, String tokenInput, String logitsOutput) {
            this.temperature = temperature;
            this.topK = topK;
            this.seed = seed;
            this.tokenInput = tokenInput;
            this.logitsOutput = logitsOutput;
        }
    }

    public final String modelFile;
    public final String sha256;
    public final long modelBytes;
    public final String signature;
    public final List<TensorSpec> inputs;
    public final List<TensorSpec> outputs;
    public final List<State> states;
    /** The tokenizer type ("bytes"), or null if the contract names none. */
    public final String tokenizer;
    public final int vocabSize;
    /** null if the model is not sampled from. */
    public final Sampling sampling;

    private ModelContract(Map<String, Object> doc) {
        Object format = doc.get("format");
        if (!FORMAT.equals(format)) {
            throw new ContractException("not a keras_dl model contract: \"format\" is " + quoted(format) + ", expected \""
                    + FORMAT + "\"");
        }
        Object version = doc.get("version");
        if (!(version instanceof Json.Number) || !((Json.Number) version).isInteger()
                || ((Json.Number) version).longValue() != VERSION) {
            throw new ContractException("model contract version " + version + " is not supported; this app reads version "
                    + VERSION);
        }
        Map<String, Object> model = map(doc, "model");
        modelFile = string(model, "file");
        sha256 = string(model, "sha256");
        modelBytes = number(model, "bytes").longValue();
        signature = string(doc, "signature");
        inputs = tensors(doc, "inputs");
        outputs = tensors(doc, "outputs");
        List<State> parsed = new ArrayList<>();
        for (Object item : list(doc, "state")) {
            Map<String, Object> entry = asMap(item, "state entry");
            String in = string(entry, "input");
            String out = string(entry, "output");
            TensorSpec inSpec = find(inputs, in, "state input");
            TensorSpec outSpec = find(outputs, out, "state output");
            if (!inSpec.sameLayout(outSpec) || !"float32".equals(inSpec.dtype)) {
                throw new ContractException("state " + in + " -> " + out + " must be float32 with the same shape in and "
                        + "out; the contract has " + inSpec.describe() + " and " + outSpec.describe());
            }
            if (!"zeros".equals(entry.get("initial"))) {
                throw new ContractException("state " + in + ": only \"initial\": \"zeros\" is supported, got "
                        + quoted(entry.get("initial")));
            }
            parsed.add(new State(in, out, inSpec));
        }
        states = Collections.unmodifiableList(parsed);
        Object tok = doc.get("tokenizer");
        if (tok == null) {
            tokenizer = null;
            vocabSize = 0;
        } else {
            Map<String, Object> t = asMap(tok, "tokenizer");
            tokenizer = string(t, "type");
            vocabSize = number(t, "vocab_size").intValue();
            if (!"bytes".equals(tokenizer) || vocabSize != ByteTokenizer.VOCAB_SIZE) {
                throw new ContractException("tokenizer " + quoted(tokenizer) + " with vocab_size " + vocabSize
                        + " is not supported; this app has the byte tokenizer (\"bytes\", 256)");
            }
        }
        Object samp = doc.get("sampling");
        if (samp == null) {
            sampling = null;
        } else {
            Map<String, Object> s = asMap(samp, "sampling");
            if (!Sampler.ALGORITHM.equals(s.get("algorithm")) || !Sampler.GENERATOR.equals(s.get("generator"))) {
                throw new ContractException("sampling algorithm " + quoted(s.get("algorithm")) + " with generator "
                        + quoted(s.get("generator")) + " is not supported; this app implements \"" + Sampler.ALGORITHM
                        + "\" with \"" + Sampler.GENERATOR + "\"");
            }
            Object topK = s.get("top_k");
            sampling = new Sampling(number(s, "temperature").doubleValue(),
                    topK == null ? 0 : number(s, "top_k").intValue(), number(s, "seed").longValue(),
                    string(s, "token_input"), string(s, "logits_output"));
            TensorSpec token = find(inputs, sampling.tokenInput, "sampling token_input");
            if (!"int32".equals(token.dtype) || !Arrays.equals(token.shape, new int[] {1})) {
                throw new ContractException("sampling token_input \"" + token.name + "\" must be int32 [1], the contract "
                        + "has " + token.describe());
            }
            TensorSpec logits = find(outputs, sampling.logitsOutput, "sampling logits_output");
            if (!"float32".equals(logits.dtype) || logits.shape.length != 2 || logits.shape[0] != 1) {
                throw new ContractException("sampling logits_output \"" + logits.name + "\" must be float32 [1, vocab], "
                        + "the contract has " + logits.describe());
            }
            if (tokenizer != null && logits.shape[1] != vocabSize) {
                throw new ContractException("logits_output \"" + logits.name + "\" has " + logits.shape[1]
                        + " logits but the tokenizer's vocab_size is " + vocabSize);
            }
        }
    }

    /** Parses and validates a contract; throws {@link ContractException} naming what is wrong. */
    public static ModelContract parse(String json) {
        Object doc;
        try {
            doc = Json.parse(json);
        } catch (IllegalArgumentException e) {
            throw new ContractException("the model contract is not valid JSON (truncated or corrupt?): " + e.getMessage());
        }
        return new ModelContract(asMap(doc, "the model contract"));
    }

    /** Reads (UTF-8) and parses a contract. */
    public static ModelContract read(InputStream in) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        byte[] buffer = new byte[8192];
        for (int n; (n = in.read(buffer)) > 0; ) {
            bytes.write(buffer, 0, n);
        }
        return parse(new String(bytes.toByteArray(), StandardCharsets.UTF_8));
    }

    /** True when the contract describes a streaming step model this app can sample from. */
    public boolean isStreamingLanguageModel() {
        return sampling != null && tokenizer != null && !states.isEmpty();
    }

    /** Throws unless {@link #isStreamingLanguageModel()}, saying which section is missing. */
    public void requireStreamingLanguageModel() {
        if (sampling == null || tokenizer == null || states.isEmpty()) {
            throw new ContractException("the model " + modelFile + " is not a streaming language model: its contract has "
                    + (states.isEmpty() ? "no state tensors" : sampling == null ? "no sampling section" : "no tokenizer")
                    + " (export it with keras_dl.export.export_lm_tflite)");
        }
    }

    public TensorSpec input(String name) {
        return find(inputs, name, "input");
    }

    public TensorSpec output(String name) {
        return find(outputs, name, "output");
    }

    /** Number of logits of the sampling output. */
    public int logitsSize() {
        return (int) output(sampling.logitsOutput).elements();
    }

    /**
     * Checks one buffer the app is about to send against the contract: same dtype, shape and byte size.
     *
     * @throws ContractException naming the tensor and both sizes (the tensorflow/tensorflow#43965 failure)
     */
    public void checkInput(TensorSpec sent) {
        TensorSpec expected = input(sent.name);
        if (!expected.sameLayout(sent)) {
            throw new ContractException("input \"" + sent.name + "\": the app sends " + sent.describe()
                    + " but the model contract says " + expected.describe() + "; LiteRT would fail with \"Cannot copy to "
                    + "a TensorFlowLite tensor with " + expected.bytes + " bytes from a Java Buffer with " + sent.bytes
                    + " bytes\" (tensorflow/tensorflow#43965)");
        }
    }

    /**
     * Checks the contract against the tensors the interpreter reports for its signature (both directions: every
     * tensor of one is in the other, with the same dtype, shape and bytes).
     */
    public void checkTensors(List<TensorSpec> modelInputs, List<TensorSpec> modelOutputs) {
        compare("input", inputs, modelInputs);
        compare("output", outputs, modelOutputs);
    }

    private void compare(String kind, List<TensorSpec> declared, List<TensorSpec> actual) {
        Map<String, TensorSpec> byName = new LinkedHashMap<>();
        for (TensorSpec t : actual) {
            byName.put(t.name, t);
        }
        for (TensorSpec want : declared) {
            TensorSpec have = byName.remove(want.name);
            if (have == null) {
                throw new ContractException("the model contract lists " + kind + " \"" + want.name + "\" but the model "
                        + modelFile + " has no such " + kind + " (it has " + names(actual) + ")");
            }
            if (!want.sameLayout(have)) {
                throw new ContractException(kind + " \"" + want.name + "\": the model contract says " + want.describe()
                        + " but the model has " + have.describe() + "; LiteRT would fail with \"Cannot copy "
                        + ("input".equals(kind) ? "to" : "from") + " a TensorFlowLite tensor with " + have.bytes
                        + " bytes " + ("input".equals(kind) ? "from" : "to") + " a Java Buffer with " + want.bytes
                        + " bytes\" (tensorflow/tensorflow#43965): package the model with its own contract");
            }
        }
        if (!byName.isEmpty()) {
            throw new ContractException("the model has " + kind + "(s) " + byName.keySet()
                    + " that its contract does not list: package the model with its own contract");
        }
    }

    /** Checks the model file's bytes against the contract's size and SHA-256. */
    public void checkModelBytes(ByteBuffer model) {
        ByteBuffer copy = model.duplicate();
        copy.rewind();
        if (copy.remaining() != modelBytes) {
            throw new ContractException("the model file has " + copy.remaining() + " bytes but its contract says "
                    + modelBytes + " (" + modelFile + "): package the model with its own contract");
        }
        String digest;
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(copy);
            StringBuilder hex = new StringBuilder();
            for (byte b : sha.digest()) {
                hex.append(String.format("%02x", b & 0xFF));
            }
            digest = hex.toString();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        if (!digest.equals(sha256)) {
            throw new ContractException("the model file's sha256 is " + digest + " but its contract was written for "
                    + sha256 + " (" + modelFile + "): package the model with its own contract");
        }
    }

    private static String names(List<TensorSpec> specs) {
        List<String> names = new ArrayList<>();
        for (TensorSpec t : specs) {
            names.add(t.name);
        }
        return names.toString();
    }

    private static TensorSpec find(List<TensorSpec> specs, String name, String what) {
        for (TensorSpec t : specs) {
            if (t.name.equals(name)) {
                return t;
            }
        }
        throw new ContractException(what + " \"" + name + "\" is not among the contract's tensors " + names(specs));
    }

    private static List<TensorSpec> tensors(Map<String, Object> doc, String key) {
        List<TensorSpec> specs = new ArrayList<>();
        for (Object item : list(doc, key)) {
            Map<String, Object> t = asMap(item, key + " entry");
            String name = string(t, "name");
            String dtype = string(t, "dtype");
            List<Object> dims = list(t, "shape");
            int[] shape = new int[dims.size()];
            for (int i = 0; i < shape.length; i++) {
                if (!(dims.get(i) instanceof Json.Number)) {
                    throw new ContractException(key + " \"" + name + "\": shape must hold integers, got " + dims);
                }
                shape[i] = ((Json.Number) dims.get(i)).intValue();
            }
            long bytes = number(t, "bytes").longValue();
            TensorSpec spec = new TensorSpec(name, dtype, shape, bytes);
            long expected = TensorSpec.elements(shape) * TensorSpec.itemSize(dtype);
            if (bytes != expected) {
                throw new ContractException(key + " \"" + name + "\" has " + bytes + " bytes in the contract, but " + dtype
                        + " " + Arrays.toString(shape) + " is " + expected + " bytes");
            }
            specs.add(spec);
        }
        return Collections.unmodifiableList(specs);
    }

    private static String quoted(Object value) {
        return value instanceof String ? "\"" + value + "\"" : String.valueOf(value);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> asMap(Object value, String what) {
        if (!(value instanceof Map)) {
            throw new ContractException(what + " must be a JSON object, got " + quoted(value));
        }
        return (Map<String, Object>) value;
    }

    private static Map<String, Object> map(Map<String, Object> doc, String key) {
        return asMap(doc.get(key), "\"" + key + "\"");
    }

    @SuppressWarnings("unchecked")
    private static List<Object> list(Map<String, Object> doc, String key) {
        Object value = doc.get(key);
        if (!(value instanceof List)) {
            throw new ContractException("\"" + key + "\" must be a JSON array, got " + quoted(value));
        }
        return (List<Object>) value;
    }

    private static String string(Map<String, Object> doc, String key) {
        Object value = doc.get(key);
        if (!(value instanceof String)) {
            throw new ContractException("\"" + key + "\" must be a string, got " + quoted(value));
        }
        return (String) value;
    }

    private static Json.Number number(Map<String, Object> doc, String key) {
        Object value = doc.get(key);
        if (!(value instanceof Json.Number)) {
            throw new ContractException("\"" + key + "\" must be a number, got " + quoted(value));
        }
        return (Json.Number) value;
    }
}
