package org.kerasdl.core;

/**
 * Streams tokens from a step model: feeds a prompt, then samples one token a step, carrying the state tensors
 * from each step to the next. The same loop as Python's {@code keras_dl.decoding.stream_tokens}: with the same
 * logits and seed it returns the same tokens.
 */
public final class StreamingSession {
    private final ModelContract contract;
    private final StepRunner runner;
    private float[][] state;
    private float[][] next;
    private final float[] logits;
    private SplitMix64 rng;
    private double temperature;
    private int topK;
    private int pending = -1;
    private long steps;

    /** A session over {@code runner}, laid out by {@code contract} (which must describe a streaming LM). */
    public StreamingSession(ModelContract contract, StepRunner runner) {
        contract.requireStreamingLanguageModel();
        this.contract = contract;
        this.runner = runner;
        int n = contract.states.size();
        state = new float[n][];
        next = new float[n][];
        for (int i = 0; i < n; i++) {
            state[i] = new float[(int) contract.states.get(i).spec.elements()];
            next[i] = new float[state[i].length];
        }
        logits = new float[contract.logitsSize()];
    }

    /**
     * Starts a sequence: zero state, then the prompt's tokens but the last fed through the model (the last one is
     * fed by the first {@link #next()}).
     *
     * @param prompt at least one token, each in [0, vocab)
     * @param temperature >= 0 (0: greedy)
     * @param topK 0 for all tokens
     * @param seed the SplitMix64 seed
     */
    public void start(int[] prompt, double temperature, int topK, long seed) {
        if (prompt == null || prompt.length == 0) {
            throw new IllegalArgumentException("prompt must hold at least one token");
        }
        int vocab = contract.logitsSize();
        for (int token : prompt) {
            if (token < 0 || token >= vocab) {
                throw new IllegalArgumentException("prompt tokens must be in [0, " + vocab + "), got " + token);
            }
        }
        if (!(temperature >= 0) || Double.isInfinite(temperature) || topK < 0) {
            throw new IllegalArgumentException("temperature must be finite and >= 0 and topK >= 0, got " + temperature
                    + " and " + topK);
        }
        this.temperature = temperature;
        this.topK = topK;
        this.rng = new SplitMix64(seed);
        for (float[] s : state) {
            java.util.Arrays.fill(s, 0f);
        }
        steps = 0;
        for (int i = 0; i < prompt.length - 1; i++) {
            advance(prompt[i]);
        }
        pending = prompt[prompt.length - 1];
    }

    /** Starts with the contract's default temperature, top-k and seed. */
    public void start(int[] prompt) {
        ModelContract.Sampling s = contract.sampling;
        start(prompt, s.temperature, s.topK, s.seed);
    }

    private void advance(int token) {
        runner.step(token, state, logits, next);
        float[][] swap = state;
        state = next;
        next = swap;
        steps++;
    }

    /** Runs one step on the last token and samples the next one, which it returns. */
    public int next() {
        if (pending < 0) {
            throw new IllegalStateException("call start(prompt) first");
        }
        advance(pending);
        pending = Sampler.sample(logits, temperature, topK, rng);
        return pending;
    }

    /** The logits of the last step (the ones the last {@link #next()} sampled from); do not modify. */
    public float[] lastLogits() {
        return logits;
    }

    /** The current state tensors (after the last step); do not modify. */
    public float[][] state() {
        return state;
    }

    /** Model calls since {@link #start}, prompt included. */
    public long steps() {
        return steps;
    }
}
