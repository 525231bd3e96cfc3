package org.kerasdl.demo;

import android.content.Context;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.kerasdl.core.ContractException;
import org.kerasdl.core.ModelContract;
import org.kerasdl.core.StepRunner;
import org.kerasdl.core.TensorSpec;
import org.tensorflow.lite.Interpreter;
import org.tensorflow.lite.Tensor;

/**
 * A {@link StepRunner} on LiteRT's Interpreter: one signature run per step, laid out by the model contract.
 *
 * <p>Before the first step it checks the contract against the file (size, SHA-256) and against the tensors the
 * interpreter reports, and checks the buffers it will send against the contract, so a mismatched model fails
 * here with the tensor's name and both sizes instead of in {@code runSignature} (tensorflow/tensorflow#43965).
 * XNNPACK is off: LiteRT's own sparse kernels run the sparse int8 model; XNNPACK would densify or reject it.
 */
public final class LiteRtStepRunner implements StepRunner, AutoCloseable {
    private final ModelContract contract;
    private final Interpreter interpreter;
    private final int[] token = new int[1];
    private final float[][] logits;
    private final float[][][] stateIn;
    private final float[][][] stateOut;
    private final Map<String, Object> inputs = new HashMap<>();
    private final Map<String, Object> outputs = new HashMap<>();

    public LiteRtStepRunner(ByteBuffer model, ModelContract contract, int threads) {
        contract.requireStreamingLanguageModel();
        contract.checkModelBytes(model);
        this.contract = contract;
        Interpreter.Options options = new Interpreter.Options().setNumThreads(threads).setUseXNNPACK(false);
        interpreter = new Interpreter(model, options);
        String signature = contract.signature;
        if (!Arrays.asList(interpreter.getSignatureKeys()).contains(signature)) {
            interpreter.close();
            throw new ContractException("the model has signatures " + Arrays.toString(interpreter.getSignatureKeys())
                    + ", not the contract's \"" + signature + "\"");
        }
        List<TensorSpec> modelInputs = new ArrayList<>();
        for (String name : interpreter.getSignatureInputs(signature)) {
            modelInputs.add(spec(name, interpreter.getInputTensorFromSignature(name, signature)));
        }
        List<TensorSpec> modelOutputs = new ArrayList<>();
        for (String name : interpreter.getSignatureOutputs(signature)) {
            modelOutputs.add(spec(name, interpreter.getOutputTensorFromSignature(name, signature)));
        }
        contract.checkTensors(modelInputs, modelOutputs);

        ModelContract.Sampling sampling = contract.sampling;
        contract.checkInput(TensorSpec.of(sampling.tokenInput, "int32", token.length));
        inputs.put(sampling.tokenInput, token);
        logits = new float[1][contract.logitsSize()];
        outputs.put(sampling.logitsOutput, logits);
        int n = contract.states.size();
        stateIn = new float[n][][];
        stateOut = new float[n][][];
        for (int i = 0; i < n; i++) {
            ModelContract.State state = contract.states.get(i);
            int size = (int) state.spec.elements();
            stateIn[i] = new float[1][size];
            stateOut[i] = new float[1][size];
            contract.checkInput(TensorSpec.of(state.input, "float32", 1, size));
            inputs.put(state.input, stateIn[i]);
            outputs.put(state.output, stateOut[i]);
        }
    }

    /** Reads the packaged {@code model.tflite} and {@code model.contract.json} (see export/android.py). */
    public static LiteRtStepRunner fromAssets(Context context, String model, String contract, int threads)
            throws IOException {
        ModelContract parsed;
        try (InputStream in = context.getAssets().open(contract)) {
            parsed = ModelContract.read(in);
        }
        return new LiteRtStepRunner(readAsset(context, model), parsed, threads);
    }

    static ByteBuffer readAsset(Context context, String name) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (InputStream in = context.getAssets().open(name)) {
            byte[] buffer = new byte[1 << 16];
            for (int n; (n = in.read(buffer)) > 0; ) {
                bytes.write(buffer, 0, n);
            }
        }
        byte[] content = bytes.toByteArray();
        ByteBuffer direct = ByteBuffer.allocateDirect(content.length).order(ByteOrder.nativeOrder());
        direct.put(content).rewind();
        return direct;
    }

    private static TensorSpec spec(String name, Tensor tensor) {
        String dtype = tensor.dataType().name().toLowerCase(Locale.ROOT);
        return new TensorSpec(name, dtype, tensor.shape(), tensor.numBytes());
    }

    public ModelContract contract() {
        return contract;
    }

    @Override
    public void step(int tokenId, float[][] state, float[] logitsOut, float[][] nextState) {
        token[0] = tokenId;
        for (int i = 0; i < state.length; i++) {
            System.arraycopy(state[i], 0, stateIn[i][0], 0, state[i].length);
        }
        interpreter.runSignature(inputs, outputs, contract.signature);
        System.arraycopy(logits[0], 0, logitsOut, 0, logitsOut.length);
        for (int i = 0; i < nextState.length; i++) {
            System.arraycopy(stateOut[i][0], 0, nextState[i], 0, nextState[i].length);
        }
    }

    @Override
    public void close() {
        interpreter.close();
    }
}
