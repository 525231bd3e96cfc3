package org.kerasdl.core;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * The byte-level tokenizer of the char-RNN (contract tokenizer {"type": "bytes", "vocab_size": 256}): a token is
 * one byte of the UTF-8 text, 0-255.
 */
public final class ByteTokenizer {
    public static final int VOCAB_SIZE = 256;

    private ByteTokenizer() {}

    /** The UTF-8 bytes of {@code text} as tokens 0-255. */
    public static int[] encode(String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        int[] tokens = new int[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            tokens[i] = bytes[i] & 0xFF;
        }
        return tokens;
    }

    /** The text of complete tokens; malformed UTF-8 becomes U+FFFD. */
    public static String decode(int[] tokens) {
        Decoder decoder = new Decoder();
        StringBuilder out = new StringBuilder();
        for (int token : tokens) {
            out.append(decoder.push(token));
        }
        return out.append(decoder.flush()).toString();
    }

    static byte checkToken(int token) {
        if (token < 0 || token >= VOCAB_SIZE) {
            throw new IllegalArgumentException("a byte token must be in [0, 256), got " + token);
        }
        return (byte) token;
    }

    /**
     * Streaming UTF-8 decoding for text that arrives one token at a time: a multi-byte character is emitted when
     * its last byte arrives, never split into replacement characters.
     */
    public static final class Decoder {
        private final CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPLACE)
                .onUnmappableCharacter(CodingErrorAction.REPLACE);
        private final ByteBuffer pending = ByteBuffer.allocate(8);
        private final CharBuffer chars = CharBuffer.allocate(16);

        /** Adds one token; returns the text it completes (often "", or one character). */
        public String push(int token) {
            pending.put(checkToken(token));
            pending.flip();
            chars.clear();
            utf8.decode(pending, chars, false);
            pending.compact();
            chars.flip();
            return chars.toString();
        }

        /** The end of the stream: an unfinished character becomes U+FFFD. */
        public String flush() {
            pending.flip();
            chars.clear();
            utf8.decode(pending, chars, true);
            utf8.flush(chars);
            pending.clear();
            utf8.reset();
            chars.flip();
            return chars.toString();
        }
    }
}
