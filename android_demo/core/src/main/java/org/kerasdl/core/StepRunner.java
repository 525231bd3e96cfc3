package org.kerasdl.core;

/**
 * One call of a streaming step model: {@code {token, state...} -> {logits, state...}}. The app implements it
 * with LiteRT ({@code LiteRtStepRunner}); tests with a fake or with recorded logits.
 */
public interface StepRunner {
    /**
     * Runs one step.
     *
     * @param token the token fed (an id of the contract's tokenizer)
     * @param state the current state tensors, in the order of the contract's "state" list (read only)
     * @param logits filled with the step's logits (the contract's sampling logits output, flattened)
     * @param nextState filled with the next state tensors, same order and sizes as {@code state}
     */
    void step(int token, float[][] state, float[] logits, float[][] nextState);
}
