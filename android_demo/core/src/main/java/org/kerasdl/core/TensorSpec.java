package org.kerasdl.core;

import java.util.Arrays;

/** A tensor as the model contract (or a LiteRT interpreter) describes it: name, dtype, shape, byte size. */
public final class TensorSpec {
    public final String name;
    /** numpy's dtype name: float32, int32, int8, uint8, int16, int64, float16, float64, bool. */
    public final String dtype;
    public final int[] shape;
    public final long bytes;

    public TensorSpec(String name, String dtype, int[] shape, long bytes) {
        this.name = name;
        this.dtype = dtype;
        this.shape = shape.clone();
        this.bytes = bytes;
    }

    /** A spec whose byte size is computed from dtype and shape. */
    public static TensorSpec of(String name, String dtype, int... shape) {
        return new TensorSpec(name, dtype, shape, elements(shape) * itemSize(dtype));
    }

    /** Bytes per element of a dtype; throws {@link ContractException} for an unknown one. */
    public static int itemSize(String dtype) {
        switch (dtype) {
            case "float64":
            case "int64":
                return 8;
            case "float32":
            case "int32":
                return 4;
            case "float16":
            case "int16":
                return 2;
            case "int8":
            case "uint8":
            case "bool":
                return 1;
            default:
                throw new ContractException("unknown dtype \"" + dtype + "\"");
        }
    }

    public static long elements(int[] shape) {
        long n = 1;
        for (int d : shape) {
            if (d < 0) {
                throw new ContractException("shape " + Arrays.toString(shape) + " has an unknown dimension");
            }
            n *= d;
        }
        return n;
    }

    public long elements() {
        return elements(shape);
    }

    /** "float32 [1, 256] (1024 bytes)". */
    public String describe() {
        return dtype + " " + Arrays.toString(shape) + " (" + bytes + " bytes)";
    }

    public boolean sameLayout(TensorSpec other) {
        return dtype.equals(other.dtype) && Arrays.equals(shape, other.shape) && bytes == other.bytes;
    }

    @Override
    public String toString() {
        return name + ": " + describe();
    }
}
