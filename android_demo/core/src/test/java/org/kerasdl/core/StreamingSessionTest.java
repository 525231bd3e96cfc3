package org.kerasdl.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;

import java.util.ArrayList;
import java.util.List;
import org.junit.Test;

public class StreamingSessionTest {
    /** A fake model whose state counts the steps and whose logits favour (token + count) % 256. */
    static final class CountingRunner implements StepRunner {
        final List<Integer> fed = new ArrayList<>();

        @Override
        public void step(int token, float[][] state, float[] logits, float[][] nextState) {
            fed.add(token);
            java.util.Arrays.fill(logits, -2f);
            logits[(token + (int) state[0][0]) % logits.length] = 2f;
            nextState[0][0] = state[0][0] + 1;
        }
    }

    private static final ModelContract CONTRACT = ModelContract.parse(Contracts.streamingLm(1));

    @Test
    public void feedsThePromptThenItsOwnSamplesCarryingTheState() {
        CountingRunner runner = new CountingRunner();
        StreamingSession session = new StreamingSession(CONTRACT, runner);
        session.start(new int[] {1, 2, 3}, 0.0, 0, 0);
        int[] tokens = new int[4];
        for (int i = 0; i < 4; i++) {
            tokens[i] = session.next();
        }
        // Python's test_stream_tokens_feeds_the_prompt_then_its_samples_and_traces_the_logits with 256 tokens:
        // the state is 2 after the prompt's first two tokens; each step picks token + state.
        assertArrayEquals(new int[] {5, 8, 12, 17}, tokens);
        assertEquals(List.of(1, 2, 3, 5, 8, 12), runner.fed);
        assertEquals(6, session.steps());
        assertEquals(6f, session.state()[0][0], 0f);
    }

    @Test
    public void restartingResetsTheStateAndTheGenerator() {
        StreamingSession session = new StreamingSession(CONTRACT, new CountingRunner());
        int[] first = new int[20];
        session.start(new int[] {7}, 1.5, 3, 9);
        for (int i = 0; i < first.length; i++) {
            first[i] = session.next();
        }
        session.start(new int[] {7}, 1.5, 3, 9);
        for (int i = 0; i < first.length; i++) {
            assertEquals(first[i], session.next());
        }
    }

    @Test
    public void usesTheContractsDefaults() {
        StreamingSession a = new StreamingSession(CONTRACT, new CountingRunner());
        StreamingSession b = new StreamingSession(CONTRACT, new CountingRunner());
        a.start(new int[] {4});
        b.start(new int[] {4}, 0.8, 0, 0);
        for (int i = 0; i < 20; i++) {
            assertEquals(b.next(), a.next());
        }
    }

    @Test
    public void rejectsBadUse() {
        StreamingSession session = new StreamingSession(CONTRACT, new CountingRunner());
        assertThrows(IllegalStateException.class, session::next);
        assertThrows(IllegalArgumentException.class, () -> session.start(new int[0]));
        assertThrows(IllegalArgumentException.class, () -> session.start(new int[] {256}));
        assertThrows(IllegalArgumentException.class, () -> session.start(new int[] {1}, -1.0, 0, 0));
    }
}
