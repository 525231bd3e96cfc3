package org.kerasdl.core;

import java.util.Arrays;

/**
 * Categorical sampling as spec "keras_dl.categorical/1", bit for bit as Python's
 * {@code keras_dl.decoding.sample_categorical}.
 *
 * <p>{@code temperature == 0}: the argmax (lowest index among ties), no draw. Otherwise
 * {@code z_i = (double) logits_i / temperature}; the kept indices are all, or the {@code topK} largest z (ties
 * to the lower index); {@code w_i = StrictMath.exp(z_i - max kept z)}; {@code total} sums w over the kept
 * indices in increasing order; {@code u = rng.nextDouble() * total}; the result is the first kept index whose
 * running sum of w exceeds u, or the last kept index if rounding leaves none. One draw per token.
 */
public final class Sampler {
    public static final String ALGORITHM = "keras_dl.categorical/1";
    public static final String GENERATOR = "splitmix64";

    private Sampler() {}

    /**
     * Samples an index of {@code logits}.
     *
     * @param logits the model's float32 logits; no NaN or +Infinity (-Infinity masks a token)
     * @param temperature >= 0 and finite; 0 is greedy
     * @param topK keep the k largest logits; 0 keeps all (as does k >= logits.length)
     * @param rng the generator; may be null when temperature is 0
     */
    public static int sample(float[] logits, double temperature, int topK, SplitMix64 rng) {
        if (logits == null || logits.length == 0) {
            throw new IllegalArgumentException("logits must be a non-empty vector");
        }
        if (!(temperature >= 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be finite and >= 0, got " + temperature);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("topK must be >= 0 (0: all), got " + topK);
        }
        for (float v : logits) {
            if (Float.isNaN(v) || v == Float.POSITIVE_INFINITY) {
                throw new IllegalArgumentException("logits must not hold NaN or +Infinity");
            }
        }
        int n = logits.length;
        if (temperature == 0) {
            int best = 0;
            for (int i = 1; i < n; i++) {
                if (logits[i] > logits[best]) {
                    best = i;
                }
            }
            return best;
        }
        if (rng == null) {
            throw new IllegalArgumentException("rng is needed for temperature > 0");
        }
        final double[] z = new double[n];
        for (int i = 0; i < n; i++) {
            z[i] = (double) logits[i] / temperature;
        }
        int[] kept;
        if (topK > 0 && topK < n) {
            Integer[] order = new Integer[n];
            for (int i = 0; i < n; i++) {
                order[i] = i;
            }
            // Not Double.compare: it orders -0.0 before 0.0, which the spec (and Python) treat as a tie.
            Arrays.sort(order, (a, b) -> z[a] > z[b] ? -1 : z[a] < z[b] ? 1 : Integer.compare(a, b));
            kept = new int[topK];
            for (int j = 0; j < topK; j++) {
                kept[j] = order[j];
            }
            Arrays.sort(kept);
        } else {
            kept = new int[n];
            for (int i = 0; i < n; i++) {
                kept[i] = i;
            }
        }
        double m = Double.NEGATIVE_INFINITY;
        for (int i : kept) {
            if (z[i] > m) {
                m = z[i];
            }
        }
        if (Double.isInfinite(m)) {
            throw new IllegalArgumentException("logits / temperature has no finite maximum (temperature "
                    + temperature + " too small, or every kept logit -Infinity)");
        }
        double[] w = new double[kept.length];
        double total = 0.0;
        for (int j = 0; j < kept.length; j++) {
            w[j] = StrictMath.exp(z[kept[j]] - m);
        }
        for (int j = 0; j < kept.length; j++) {
            total += w[j];
        }
        double u = rng.nextDouble() * total;
        double cumulative = 0.0;
        for (int j = 0; j < kept.length; j++) {
            cumulative += w[j];
            if (u < cumulative) {
                return kept[j];
            }
        }
        return kept[kept.length - 1];
    }
}
