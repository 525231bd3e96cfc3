package org.kerasdl.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.util.HashSet;
import java.util.Set;
import org.junit.Test;

public class SamplerTest {
    private static float[] logOf(double... p) {
        float[] logits = new float[p.length];
        for (int i = 0; i < p.length; i++) {
            logits[i] = (float) Math.log(p[i]);
        }
        return logits;
    }

    @Test
    public void zeroTemperatureIsArgmaxWithTiesToTheLowestIndexAndDrawsNothing() {
        SplitMix64 rng = new SplitMix64(5);
        assertEquals(1, Sampler.sample(new float[] {1f, 3f, 3f, -2f}, 0.0, 0, rng));
        assertEquals(5L, rng.state());
        assertEquals(1, Sampler.sample(new float[] {Float.NEGATIVE_INFINITY, -1f}, 0.0, 0, null));
    }

    @Test
    public void drawsByHand() {
        // The same cases as Python's tests/decoding/test_portable_sampling.py::test_a_draw_by_hand.
        float[] logits = logOf(1, 2, 1);
        assertEquals(2, Sampler.sample(logits, 1.0, 0, new SplitMix64(0)));  // u = 0.883 * 2 > 1.5
        assertEquals(1, Sampler.sample(logits, 1.0, 0, new SplitMix64(1)));  // u = 0.567 * 2 in (0.5, 1.5]
        assertEquals(1, Sampler.sample(logits, 1.0, 2, new SplitMix64(0)));  // keeps {0, 1}: u = 0.883 * 1.5 > 0.5
        float[] two = {0f, 1f};
        assertEquals(1, Sampler.sample(two, 0.5, 0, new SplitMix64(0)));
        assertEquals(0, Sampler.sample(two, 0.5, 0, new SplitMix64(10)));  // u = 0.0333 * 1.135 < e^-2
    }

    @Test
    public void negativeZeroTiesWithZeroInTopK() {
        // Double.compare would put -0.0 below 0.0; the spec breaks the tie by index, keeping index 0.
        float[] logits = {-0.0f, 0.0f, -5f};
        Set<Integer> seen = new HashSet<>();
        SplitMix64 rng = new SplitMix64(1);
        for (int i = 0; i < 200; i++) {
            seen.add(Sampler.sample(logits, 100.0, 1, rng));
        }
        assertEquals(Set.of(0), seen);
    }

    @Test
    public void oneDrawPerSample() {
        SplitMix64 rng = new SplitMix64(11);
        SplitMix64 reference = new SplitMix64(11);
        for (int i = 0; i < 5; i++) {
            Sampler.sample(new float[7], 0.7, 3, rng);
            reference.nextLong();
        }
        assertEquals(reference.state(), rng.state());
    }

    @Test
    public void topKOneIsArgmaxAndTopKStaysInTheKLargest() {
        float[] logits = new float[50];
        SplitMix64 noise = new SplitMix64(99);
        int argmax = 0;
        for (int i = 0; i < logits.length; i++) {
            logits[i] = (float) (noise.nextDouble() * 10 - 5);
            if (logits[i] > logits[argmax]) {
                argmax = i;
            }
        }
        SplitMix64 rng = new SplitMix64(3);
        for (int i = 0; i < 50; i++) {
            assertEquals(argmax, Sampler.sample(logits, 2.0, 1, rng));
        }
        Set<Integer> top5 = new HashSet<>();
        float[] sorted = logits.clone();
        java.util.Arrays.sort(sorted);
        for (int i = 0; i < logits.length; i++) {
            if (logits[i] >= sorted[sorted.length - 5]) {
                top5.add(i);
            }
        }
        Set<Integer> picks = new HashSet<>();
        for (int i = 0; i < 500; i++) {
            picks.add(Sampler.sample(logits, 50.0, 5, rng));
        }
        assertEquals(top5, picks);
    }

    @Test
    public void frequenciesFollowTheTemperedSoftmax() {
        float[] logits = logOf(0.5, 0.3, 0.15, 0.05);
        double[] tempered = {0.25, 0.09, 0.0225, 0.0025};
        double sum = 0.365;
        int n = 20000;
        int[] counts = new int[4];
        SplitMix64 rng = new SplitMix64(42);
        for (int i = 0; i < n; i++) {
            counts[Sampler.sample(logits, 0.5, 0, rng)]++;
        }
        for (int i = 0; i < 4; i++) {
            assertEquals(tempered[i] / sum, counts[i] / (double) n, 0.013);
        }
    }

    @Test
    public void rejectsBadArguments() {
        SplitMix64 rng = new SplitMix64(0);
        assertThrows(IllegalArgumentException.class, () -> Sampler.sample(new float[3], -1.0, 0, rng));
        assertThrows(IllegalArgumentException.class, () -> Sampler.sample(new float[3], Double.NaN, 0, rng));
        assertThrows(IllegalArgumentException.class, () -> Sampler.sample(new float[3], 1.0, -1, rng));
        assertThrows(IllegalArgumentException.class, () -> Sampler.sample(new float[] {0f, Float.NaN}, 1.0, 0, rng));
        assertThrows(IllegalArgumentException.class, () -> Sampler.sample(new float[0], 1.0, 0, rng));
        assertThrows(IllegalArgumentException.class, () -> Sampler.sample(new float[3], 1.0, 0, null));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Sampler.sample(new float[] {3e38f, 0f}, 1e-300, 0, rng));
        assertTrue(e.getMessage().contains("no finite maximum"));
    }
}
