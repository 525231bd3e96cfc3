package org.kerasdl.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.Test;

public class JsonTest {
    @Test
    @SuppressWarnings("unchecked")
    public void parsesEveryKindOfValue() {
        Map<String, Object> doc = (Map<String, Object>) Json.parse(
                " {\"a\": [1, -2.5e-3, true, false, null], \"s\": \"x\\\"\\u00e9\\n\", \"o\": {}, \"e\": []} ");
        List<Object> a = (List<Object>) doc.get("a");
        assertEquals(1L, ((Json.Number) a.get(0)).longValue());
        assertEquals(-2.5e-3, ((Json.Number) a.get(1)).doubleValue(), 0.0);
        assertEquals(Boolean.TRUE, a.get(2));
        assertEquals(Boolean.FALSE, a.get(3));
        assertNull(a.get(4));
        assertEquals("x\"\u00e9\n", doc.get("s"));
        assertTrue(((Map<?, ?>) doc.get("o")).isEmpty());
        assertTrue(((List<?>) doc.get("e")).isEmpty());
        assertEquals(List.of("s", "a", "o", "e").size(), doc.size());
    }

    @Test
    public void numbersKeepTheirExactValue() {
        // Python's repr of a double is the shortest text that round-trips; parsing it gives the same bits.
        assertEquals(Double.doubleToLongBits(0.1 + 0.2),
                Double.doubleToLongBits(((Json.Number) Json.parse("0.30000000000000004")).doubleValue()));
        // An unsigned 64-bit seed above Long.MAX_VALUE keeps its bits.
        assertEquals(-1L, ((Json.Number) Json.parse("18446744073709551615")).longValue());
    }

    @Test
    public void rejectsMalformedDocumentsWithTheOffset() {
        for (String bad : new String[] {"{", "[1,]", "{\"a\" 1}", "tru", "1 2", "\"unterminated", "{\"a\":1,\"a\":2}",
                "-", "01x"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Json.parse(bad));
            assertTrue(bad + ": " + e.getMessage(), e.getMessage().startsWith("invalid JSON at offset"));
        }
    }
}
