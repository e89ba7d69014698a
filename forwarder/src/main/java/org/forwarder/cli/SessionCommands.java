package org.forwarder.cli;

import org.forwarder.config.StatsConfig.Level;
import org.forwarder.proxy.Server;
import org.forwarder.proxy.Worker;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * Commands on streams: {@code show sess [id]}, {@code shutdown session <id>},
 * {@code shutdown sessions server <b>/<s>}. A stream belongs to one loop and only that loop's
 * thread may touch it, so each command is a task run on the loops ({@code Poller.execute}), all
 * at once, the control loop waiting for their answers (bounded: loops that do not answer within
 * {@link #LOOP_ANSWER_MS} in all are reported, never waited on forever). A stream's number names its
 * loop ({@link Worker#loopOfSession}), so {@code shutdown session} asks that loop alone.
 * Streams are listed as HAProxy lists them, except that the CLI's own connection is not one
 * (it is served by the control loop, not as a stream).
 */
final class SessionCommands {
    static final long LOOP_ANSWER_MS = 2_000;

    private final CliContext ctx;
    private final ServerCommands servers;

    SessionCommands(CliContext ctx, ServerCommands servers) {
        this.ctx = ctx;
        this.servers = servers;
    }

    void addTo(CliCommands t) {
        t.add(new String[] {"show", "sess"}, Level.OPERATOR, "show sess [id]",
                "report the list of current sessions or dump this exact session", this::showSess);
        t.add(new String[] {"shutdown", "session"}, Level.ADMIN, "shutdown session [id]", "kill a specific session",
                this::shutdownSession);
        t.add(new String[] {"shutdown", "sessions", "server"}, Level.ADMIN, "shutdown sessions server <bk>/<srv>",
                "kill sessions on a server", this::shutdownSessionsOnServer);
    }

    private void showSess(String[] a, CliSession s) {
        long id = a.length > 2 ? parseId(a[2]) : 0; // HAProxy: garbage reads as 0, the whole list
        List<Worker> asked = new ArrayList<>();
        for (Worker w : ctx.proxies().loops()) {
            if (id == 0 || Worker.loopOfSession(id) == w.index()) asked.add(w);
        }
        List<StringBuilder> parts = onLoops(asked, w -> {
            StringBuilder b = new StringBuilder();
            return w.describeSessions(b, id) ? b : null;
        });
        StringBuilder sb = new StringBuilder();
        for (StringBuilder p : parts) if (p != null) sb.append(p);
        if (id != 0 && sb.isEmpty()) throw new CliError("Session not found.");
        s.answer(sb.toString());
    }

    private void shutdownSession(String[] a, CliSession s) {
        long id = a.length > 2 ? parseId(a[2]) : 0;
        if (id == 0) throw new CliError("Session pointer expected (use 'show sess').");
        Worker[] loops = ctx.proxies().loops();
        int loop = Worker.loopOfSession(id);
        boolean done = loop < loops.length && onLoops(List.of(loops[loop]), w -> w.killSession(id)).getFirst();
        if (!done) throw new CliError("No such session (use 'show sess').");
        s.answer("");
    }

    private void shutdownSessionsOnServer(String[] a, CliSession s) {
        ServerCommands.Target t = servers.findServer(a.length > 3 ? a[3] : "");
        Server sv = t.server();
        onLoops(List.of(ctx.proxies().loops()), w -> w.killSessionsOn(sv, 'K'));
        s.answer("");
    }

    /** HAProxy's strtoul(base 0): 0x.. hex, 0.. octal, else decimal; 0 for anything else. */
    static long parseId(String text) {
        try {
            if (text.startsWith("0x") || text.startsWith("0X")) return Long.parseUnsignedLong(text.substring(2), 16);
            if (text.length() > 1 && text.startsWith("0")) return Long.parseUnsignedLong(text.substring(1), 8);
            if (text.startsWith("-")) return -Long.parseLong(text.substring(1)); // strtoul wraps it: no such session
            return Long.parseUnsignedLong(text);
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    /**
     * Runs {@code f} on each loop of {@code loops} (all at once, each on its own thread) and
     * waits for their results, in that order, for {@link #LOOP_ANSWER_MS} in all. A loop that
     * did not answer in time (stopping, or stuck) is reported as an error; its task, should it
     * run later, then does nothing, so no stream is ended after the client was told otherwise.
     */
    private static <T> List<T> onLoops(List<Worker> loops, Function<Worker, T> f) {
        java.util.concurrent.atomic.AtomicBoolean cancelled = new java.util.concurrent.atomic.AtomicBoolean();
        List<CompletableFuture<T>> answers = new ArrayList<>();
        for (Worker w : loops) {
            CompletableFuture<T> answer = new CompletableFuture<>();
            answers.add(answer);
            w.poller().execute(() -> {
                if (cancelled.get()) return;
                try {
                    answer.complete(f.apply(w));
                } catch (Throwable e) {
                    answer.completeExceptionally(e);
                }
            });
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(LOOP_ANSWER_MS);
        List<T> out = new ArrayList<>();
        for (int i = 0; i < loops.size(); i++) {
            Worker w = loops.get(i);
            try {
                out.add(answers.get(i).get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS));
            } catch (java.util.concurrent.TimeoutException e) {
                cancelled.set(true);
                throw new CliError("Event loop " + w.index() + " did not answer within " + LOOP_ANSWER_MS + " ms.");
            } catch (InterruptedException e) {
                cancelled.set(true);
                Thread.currentThread().interrupt();
                throw new CliError("Interrupted.");
            } catch (java.util.concurrent.ExecutionException e) {
                throw new CliError("Event loop " + w.index() + " failed: " + e.getCause());
            }
        }
        return out;
    }
}
