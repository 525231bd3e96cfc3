package org.kerasdl.core;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A minimal JSON reader (RFC 8259) for model contracts and test vectors: no JSON library ships with the JVM or
 * is reachable offline, and the documents are small.
 *
 * <p>Objects become {@code LinkedHashMap<String, Object>}, arrays {@code ArrayList<Object>}, strings
 * {@code String}, {@code true}/{@code false} {@code Boolean}, {@code null} {@code null}, and numbers
 * {@link Json.Number}, which keeps the literal so that a double is parsed exactly once (Python writes the
 * shortest text that round-trips, so {@code Double.parseDouble} gives back the very same double).
 */
public final class Json {
    /** A JSON number, kept as its literal text. */
    public static final class Number extends java.lang.Number {
        private static final long serialVersionUID = 1L;
        private final String text;

        Number(String text) {
            this.text = text;
        }

        public String text() {
            return text;
        }

        public boolean isInteger() {
            return text.indexOf('.') < 0 && text.indexOf('e') < 0 && text.indexOf('E') < 0;
        }

        @Override
        public double doubleValue() {
            return Double.parseDouble(text);
        }

        @Override
        public float floatValue() {
            return Float.parseFloat(text);
        }

        /** The value as a long; an integer in [2^63, 2^64) (an unsigned 64-bit seed) keeps its bits. */
        @Override
        public long longValue() {
            if (!isInteger()) {
                throw new IllegalArgumentException("not an integer: " + text);
            }
            return text.startsWith("-") ? Long.parseLong(text) : Long.parseUnsignedLong(text);
        }

        @Override
        public int intValue() {
            return Math.toIntExact(longValue());
        }

        @Override
        public String toString() {
            return text;
        }
    }

    private final String s;
    private int i;

    private Json(String s) {
        this.s = s;
    }

    /** Parses one JSON document; throws {@link IllegalArgumentException} with the offset of the first error. */
    /** A parsed JSON array of integers (a list of {@link Number}s) as an {@code int[]}. */
    public static int[] intArray(Object list) {
        java.util.List<?> values = (java.util.List<?>) list;
        int[] out = new int[values.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = ((Number) values.get(i)).intValue();
        }
        return out;
    }

    public static Object parse(String text) {
        Json parser = new Json(text);
        parser.space();
        Object value = parser.value();
        parser.space();
        if (parser.i != text.length()) {
            throw parser.error("trailing characters");
        }
        return value;
    }

    private IllegalArgumentException error(String what) {
        return new IllegalArgumentException("invalid JSON at offset " + i + ": " + what);
    }

    private void space() {
        while (i < s.length() && " \t\r\n".indexOf(s.charAt(i)) >= 0) {
            i++;
        }
    }

    private char peek() {
        if (i >= s.length()) {
            throw error("unexpected end");
        }
        return s.charAt(i);
    }

    private void expect(char c) {
        if (peek() != c) {
            throw error("expected '" + c + "', got '" + peek() + "'");
        }
        i++;
    }

    private Object value() {
        char c = peek();
        switch (c) {
            case '{':
                return object();
            case '[':
                return array();
            case '"':
                return string();
            case 't':
                return literal("true", Boolean.TRUE);
            case 'f':
                return literal("false", Boolean.FALSE);
            case 'n':
                return literal("null", null);
            default:
                if (c == '-' || (c >= '0' && c <= '9')) {
                    return number();
                }
                throw error("unexpected '" + c + "'");
        }
    }

    private Object literal(String word, Object value) {
        if (!s.startsWith(word, i)) {
            throw error("expected " + word);
        }
        i += word.length();
        return value;
    }

    private Map<String, Object> object() {
        Map<String, Object> map = new LinkedHashMap<>();
        expect('{');
        space();
        if (peek() == '}') {
            i++;
            return map;
        }
        while (true) {
            space();
            String key = string();
            space();
            expect(':');
            space();
            if (map.put(key, value()) != null) {
                throw error("duplicate key \"" + key + "\"");
            }
            space();
            if (peek() == ',') {
                i++;
            } else {
                expect('}');
                return map;
            }
        }
    }

    private List<Object> array() {
        List<Object> list = new ArrayList<>();
        expect('[');
        space();
        if (peek() == ']') {
            i++;
            return list;
        }
        while (true) {
            space();
            list.add(value());
            space();
            if (peek() == ',') {
                i++;
            } else {
                expect(']');
                return list;
            }
        }
    }

    private String string() {
        expect('"');
        StringBuilder out = new StringBuilder();
        while (true) {
            char c = peek();
            i++;
            if (c == '"') {
                return out.toString();
            }
            if (c < 0x20) {
                throw error("control character in a string");
            }
            if (c != '\\') {
                out.append(c);
                continue;
            }
            char e = peek();
            i++;
            switch (e) {
                case '"': out.append('"'); break;
                case '\\': out.append('\\'); break;
                case '/': out.append('/'); break;
                case 'b': out.append('\b'); break;
                case 'f': out.append('\f'); break;
                case 'n': out.append('\n'); break;
                case 'r': out.append('\r'); break;
                case 't': out.append('\t'); break;
                case 'u':
                    if (i + 4 > s.length()) {
                        throw error("short \\u escape");
                    }
                    try {
                        out.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                    } catch (NumberFormatException ex) {
                        throw error("bad \\u escape");
                    }
                    i += 4;
                    break;
                default:
                    throw error("bad escape \\" + e);
            }
        }
    }

    private Number number() {
        int start = i;
        if (peek() == '-') {
            i++;
        }
        digits();
        if (i < s.length() && s.charAt(i) == '.') {
            i++;
            digits();
        }
        if (i < s.length() && (s.charAt(i) == 'e' || s.charAt(i) == 'E')) {
            i++;
            if (i < s.length() && (s.charAt(i) == '+' || s.charAt(i) == '-')) {
                i++;
            }
            digits();
        }
        return new Number(s.substring(start, i));
    }

    private void digits() {
        int start = i;
        while (i < s.length() && s.charAt(i) >= '0' && s.charAt(i) <= '9') {
            i++;
        }
        if (i == start) {
            throw error("expected a digit");
        }
    }
}
