package org.forwarder.cli;

import org.forwarder.config.StatsConfig;
import org.forwarder.io.ArraySend;
import org.forwarder.io.LingeringClose;
import org.forwarder.poll.FdHandler;
import org.forwarder.poll.FdTab;
import org.forwarder.poll.TimerTask;
import org.forwarder.sys.Errno;
import org.forwarder.sys.SockConst;
import org.forwarder.sys.Syscalls;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * One CLI client: bytes go into a bounded line buffer; each complete line is split on {@code ;}
 * and its commands answered in order, each answer followed by an empty line (or, in prompt
 * mode, by the {@code "\n> "} prompt as HAProxy prints it). Without prompt mode the connection
 * closes once the first line is answered. A line longer than the buffer is refused with one
 * error line and the connection closed; a client idle for {@code stats timeout} (sending nothing
 * and reading nothing) is closed. While an answer waits for the client to read it, no more
 * input is read, so a client that never reads holds at most its pending answer.
 */
final class CliSession extends TimerTask implements FdHandler {
    static final int LINE_MAX = 16 * 1024;
    /** Answers pending above which no further command is run until the client reads. */
    static final int OUT_HIGH = 64 * 1024;

    private final CliSessions owner;
    private final Syscalls sys;
    private final FdTab fdTab;
    private final int fd;
    final StatsConfig.Level level;
    private final byte[] in = new byte[LINE_MAX];
    /** Commands of the current line not run yet (their answers wait for room). */
    private final java.util.ArrayDeque<String> lineLeft = new java.util.ArrayDeque<>();
    private int inLen;
    private byte[] out = new byte[4096];
    private int outOff;
    private int outLen;
    private boolean prompt;
    private boolean closing;   // answer what is pending, then close
    private boolean closed;
    private boolean lingering; // answered, write side shut: discard input until the client closes

    CliSession(CliSessions owner, int fd, StatsConfig.Level level) {
        this.owner = owner;
        this.sys = owner.poller.sys();
        this.fdTab = owner.poller.fdTab();
        this.fd = fd;
        this.level = level;
    }

    void start() {
        fdTab.register(fd, this, true, true);
        fdTab.wantRecv(fd);
        armTimer();
    }

    private void armTimer() {
        owner.poller.timers().schedule(this, owner.poller.now() + owner.config.timeoutMs());
    }

    @Override
    protected void onTimer(long nowMs) {
        close();
    }

    @Override
    public void onIo(int ignored) {
        if (closed) return;
        if (lingering) {
            discard();
            return;
        }
        if (outLen > outOff) {
            flush();
            if (closed || outLen > outOff) return;
        }
        if (closing) {
            finish();
            return;
        }
        MemorySegment buf = owner.io;
        while (!closed && !closing && outLen == outOff) {
            if (hasLine()) { // lines left from an earlier read, held while their answers were sent
                lines();
                continue;
            }
            int room = LINE_MAX - inLen;
            if (room == 0) {
                inLen = 0;
                fdTab.mayRecv(fd); // more of the line may wait: linger
                answerRaw("Command line too long: over " + LINE_MAX + " bytes without a newline; closing.\n\n");
                closing = true;
                break;
            }
            long n = sys.recv(fd, buf, 0, Math.min(room, CliSessions.IO_CHUNK), SockConst.MSG_DONTWAIT);
            if (n == -Errno.EAGAIN) {
                fdTab.cantRecv(fd);
                return;
            }
            if (n == -Errno.EINTR) continue;
            if (n <= 0) { // peer closed or error: nothing more can be asked
                close();
                return;
            }
            MemorySegment.copy(buf, ValueLayout.JAVA_BYTE, 0, in, inLen, (int) n);
            inLen += (int) n;
            armTimer();
            lines();
        }
        if (outLen > outOff) flush();
        if (!closed && closing && outLen == outOff) finish();
    }

    /**
     * Closes once everything is answered. If the client sent bytes we did not read, a plain close
     * would reset the connection and could destroy the answer in flight: then shut the write
     * side and read and drop what comes until the client closes (or stats timeout).
     */
    private void finish() {
        // unread bytes in our buffer, or in the socket's
        if (inLen == 0 && !LingeringClose.unread(sys, fd, owner.io)) {
            close();
            return;
        }
        lingering = true;
        LingeringClose.shutWrite(sys, fdTab, fd);
        discard();
    }

    private void discard() {
        if (LingeringClose.discard(sys, fdTab, fd, owner.io, CliSessions.IO_CHUNK)) close();
    }

    private boolean hasLine() {
        if (!lineLeft.isEmpty()) return true;
        for (int i = 0; i < inLen; i++) if (in[i] == '\n') return true;
        return false;
    }

    /**
     * Answers the complete lines in the buffer (only the first without prompt mode), command by
     * command, until the answers pending reach {@link #OUT_HIGH}: the rest (the line's remaining
     * commands, the next lines) waits until the client has read them, so a client that sends
     * many commands, on many lines or on one with {@code ;}, and reads nothing holds a bounded
     * amount of memory: its 16 KiB of input and about 64 KiB of answers.
     */
    private void lines() {
        int start = 0;
        while (!closing && outLen - outOff < OUT_HIGH) {
            if (!lineLeft.isEmpty()) {
                owner.commands.run(lineLeft.poll().strip(), this);
                if (lineLeft.isEmpty() && !prompt) closing = true; // the line is done
                continue;
            }
            int nl = -1;
            for (int i = start; i < inLen; i++) {
                if (in[i] == '\n') {
                    nl = i;
                    break;
                }
            }
            if (nl < 0) break;
            int end = nl > start && in[nl - 1] == '\r' ? nl - 1 : nl;
            String line = new String(in, start, end - start, StandardCharsets.UTF_8);
            start = nl + 1;
            java.util.Collections.addAll(lineLeft, line.split(";", -1));
        }
        if (closing) lineLeft.clear();
        System.arraycopy(in, start, in, 0, inLen - start);
        inLen -= start;
    }

    // ---- what commands use ---------------------------------------------------------------

    /** One command's answer: its text, then the end of answer (an empty line, or the prompt). */
    void answer(String text) {
        answerRaw(text);
        answerRaw(prompt ? "\n> " : "\n");
    }

    boolean prompt() {
        return prompt;
    }

    void togglePrompt() {
        prompt = !prompt;
    }

    /** {@code quit}: close once what was answered before is sent. */
    void quit() {
        closing = true;
    }

    private void answerRaw(String text) {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        if (outLen + b.length > out.length) {
            if (outOff > 0) {
                System.arraycopy(out, outOff, out, 0, outLen - outOff);
                outLen -= outOff;
                outOff = 0;
            }
            if (outLen + b.length > out.length) out = Arrays.copyOf(out, Math.max(out.length * 2, outLen + b.length));
        }
        System.arraycopy(b, 0, out, outLen, b.length);
        outLen += b.length;
    }

    private void flush() {
        int sent = ArraySend.send(sys, fdTab, fd, out, outOff, outLen, owner.io, CliSessions.IO_CHUNK);
        if (sent < 0) {
            close();
            return;
        }
        if (sent > outOff) armTimer(); // the client reads: it is not idle
        outOff = sent;
        if (outOff < outLen) return; // the rest when the socket has room
        outOff = 0;
        outLen = 0;
        fdTab.stopSend(fd);
    }

    void close() {
        if (closed) return;
        closed = true;
        owner.poller.timers().cancel(this);
        fdTab.unregister(fd);
        sys.close(fd);
        owner.closed(this);
    }
}
