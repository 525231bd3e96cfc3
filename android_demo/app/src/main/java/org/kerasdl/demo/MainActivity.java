package org.kerasdl.demo;

import android.app.Activity;
import android.os.Bundle;
import android.os.Handler;
import android.os.Looper;
import android.os.SystemClock;
import android.widget.Button;
import android.widget.EditText;
import android.widget.TextView;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import org.kerasdl.core.ByteTokenizer;
import org.kerasdl.core.ModelContract;
import org.kerasdl.core.StreamingSession;

/**
 * Type a prompt, watch the char-RNN continue it token by token on LiteRT, with the step rate in tokens/s.
 *
 * <p>The model and its contract are the assets {@code model.tflite} and {@code model.contract.json}, written by
 * {@code python -m export.android}. Generation runs on one background thread; the UI gets each decoded piece.
 */
public final class MainActivity extends Activity {
    static final String MODEL = "model.tflite";
    static final String CONTRACT = "model.contract.json";
    static final int LENGTH = 400;

    private final ExecutorService worker = Executors.newSingleThreadExecutor();
    private final Handler ui = new Handler(Looper.getMainLooper());
    private final AtomicBoolean running = new AtomicBoolean();
    private volatile boolean stop;
    private LiteRtStepRunner runner;
    private TextView output;
    private TextView stats;
    private Button generate;

    @Override
    protected void onCreate(Bundle savedInstanceState) {
        super.onCreate(savedInstanceState);
        setContentView(R.layout.activity_main);
        output = findViewById(R.id.output);
        stats = findViewById(R.id.stats);
        generate = findViewById(R.id.generate);
        EditText prompt = findViewById(R.id.prompt);
        EditText temperature = findViewById(R.id.temperature);
        EditText topK = findViewById(R.id.top_k);
        EditText seed = findViewById(R.id.seed);
        generate.setEnabled(false);
        worker.execute(() -> {
            try {
                runner = LiteRtStepRunner.fromAssets(this, MODEL, CONTRACT, 1);
                ModelContract.Sampling s = runner.contract().sampling;
                ui.post(() -> {
                    temperature.setText(String.valueOf(s.temperature));
                    topK.setText(String.valueOf(s.topK));
                    seed.setText(Long.toUnsignedString(s.seed));
                    stats.setText(String.format(Locale.ROOT, "%s: %d bytes, %d state tensor(s)",
                            runner.contract().modelFile, runner.contract().modelBytes, runner.contract().states.size()));
                    generate.setEnabled(true);
                });
            } catch (Exception e) {
                // A missing asset, or a model its contract does not describe: say which, in the app.
                ui.post(() -> stats.setText("Cannot load the model: " + e.getMessage()
                        + "\nPackage one with: python -m export.android MODEL.tflite"));
            }
        });
        generate.setOnClickListener(v -> {
            if (running.get()) {
                stop = true;
                return;
            }
            int[] tokens = ByteTokenizer.encode(prompt.getText().toString());
            if (tokens.length == 0) {
                stats.setText("Type a prompt first.");
                return;
            }
            double t;
            int k;
            long s;
            try {
                t = Double.parseDouble(temperature.getText().toString());
                k = Integer.parseInt(topK.getText().toString());
                s = Long.parseUnsignedLong(seed.getText().toString());
            } catch (NumberFormatException e) {
                stats.setText("Temperature must be a number, top-k and seed whole numbers.");
                return;
            }
            start(tokens, t, k, s);
        });
    }

    private void start(int[] prompt, double temperature, int topK, long seed) {
        running.set(true);
        stop = false;
        output.setText(ByteTokenizer.decode(prompt));
        generate.setText(R.string.stop);
        worker.execute(() -> {
            String error = null;
            int produced = 0;
            long begin = SystemClock.elapsedRealtimeNanos();
            try {
                StreamingSession session = new StreamingSession(runner.contract(), runner);
                session.start(prompt, temperature, topK, seed);
                ByteTokenizer.Decoder decoder = new ByteTokenizer.Decoder();
                begin = SystemClock.elapsedRealtimeNanos();  // the prompt is not counted in tokens/s
                while (produced < LENGTH && !stop) {
                    String piece = decoder.push(session.next());
                    produced++;
                    if (!piece.isEmpty()) {
                        ui.post(() -> output.append(piece));
                    }
                }
                String rest = decoder.flush();
                ui.post(() -> output.append(rest));
            } catch (RuntimeException e) {
                error = e.getMessage();
            }
            double seconds = (SystemClock.elapsedRealtimeNanos() - begin) / 1e9;
            String line = error != null ? "Error: " + error : String.format(Locale.ROOT,
                    "%d tokens in %.2f s: %.0f tokens/s (1 thread, XNNPACK off)", produced, seconds, produced / seconds);
            ui.post(() -> {
                stats.setText(line);
                generate.setText(R.string.generate);
                running.set(false);
            });
        });
    }

    @Override
    protected void onDestroy() {
        stop = true;
        worker.execute(() -> {
            if (runner != null) {
                runner.close();
            }
        });
        worker.shutdown();
        super.onDestroy();
    }
}
