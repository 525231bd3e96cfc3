package org.kerasdl.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.util.SplittableRandom;
import org.junit.Test;

public class SplitMix64Test {
    @Test
    public void firstOutputsForSeedZeroAreTheReferenceValues() {
        SplitMix64 rng = new SplitMix64(0);
        assertEquals(0xE220A8397B1DCDAFL, rng.nextLong());
        assertEquals(0x6E789E6AA1B965F4L, rng.nextLong());
        assertEquals(0x06C45D188009454FL, rng.nextLong());
    }

    @Test
    public void sameSequenceAsSplittableRandom() {
        // SplittableRandom(seed) is SplitMix64 with the same golden-ratio increment.
        for (long seed : new long[] {1, 42, -1, Long.MIN_VALUE}) {
            SplitMix64 rng = new SplitMix64(seed);
            SplittableRandom reference = new SplittableRandom(seed);
            for (int i = 0; i < 100; i++) {
                assertEquals(reference.nextLong(), rng.nextLong());
            }
        }
    }

    @Test
    public void doublesAreTheTop53BitsInTheUnitInterval() {
        long first = new SplitMix64(7).nextLong();
        double d = new SplitMix64(7).nextDouble();
        assertEquals((first >>> 11) / 9007199254740992.0, d, 0.0);
        SplitMix64 rng = new SplitMix64(3);
        for (int i = 0; i < 10000; i++) {
            double x = rng.nextDouble();
            assertTrue(x >= 0.0 && x < 1.0);
        }
        assertEquals(0.8833, new SplitMix64(0).nextDouble(), 1e-4);
    }
}
