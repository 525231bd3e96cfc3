package org.kerasdl.core;

/**
 * SplitMix64 (Steele, Lea and Flood, 2014), the generator of the "keras_dl.categorical/1" sampling spec; the
 * same sequence as Python's {@code keras_dl.decoding.SplitMix64} and Java's {@code SplittableRandom}.
 */
public final class SplitMix64 {
    private long state;

    /** A generator whose state starts at {@code seed} (an unsigned 64-bit value held in a long). */
    public SplitMix64(long seed) {
        this.state = seed;
    }

    /** The current state (unsigned 64 bits in a long). */
    public long state() {
        return state;
    }

    /** The next 64-bit output. */
    public long nextLong() {
        state += 0x9E3779B97F4A7C15L;
        long z = state;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** The next double in [0, 1): the top 53 bits of {@link #nextLong()} times 2^-53. */
    public double nextDouble() {
        return (nextLong() >>> 11) * 0x1.0p-53;
    }
}
