package org.kerasdl.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;

import org.junit.Test;

public class ByteTokenizerTest {
    @Test
    public void encodesUtf8BytesAsUnsignedTokens() {
        assertArrayEquals(new int[] {100, 101, 102, 32}, ByteTokenizer.encode("def "));
        assertArrayEquals(new int[] {0xC3, 0xA9, 0xE2, 0x82, 0xAC}, ByteTokenizer.encode("\u00e9\u20ac"));
    }

    @Test
    public void streamingDecodingWaitsForTheLastByteOfACharacter() {
        ByteTokenizer.Decoder decoder = new ByteTokenizer.Decoder();
        assertEquals("a", decoder.push('a'));
        assertEquals("", decoder.push(0xE2));
        assertEquals("", decoder.push(0x82));
        assertEquals("\u20ac", decoder.push(0xAC));
        assertEquals("", decoder.push(0xC3));
        assertEquals("\ufffd", decoder.flush());  // an unfinished character at the end
        assertEquals("x\u00e9", ByteTokenizer.decode(new int[] {'x', 0xC3, 0xA9}));
        assertEquals("\ufffdA", ByteTokenizer.decode(new int[] {0xFF, 'A'}));  // malformed byte, then text resumes
    }

    @Test
    public void roundTripsText() {
        String text = "def f(x):\n    return x  # \u00e9t\u00e9 \ud83d\ude00";
        assertEquals(text, ByteTokenizer.decode(ByteTokenizer.encode(text)));
    }

    @Test
    public void rejectsTokensOutsideAByte() {
        assertThrows(IllegalArgumentException.class, () -> new ByteTokenizer.Decoder().push(256));
        assertThrows(IllegalArgumentException.class, () -> new ByteTokenizer.Decoder().push(-1));
    }
}
