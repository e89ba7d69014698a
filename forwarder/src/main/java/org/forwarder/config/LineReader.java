package org.forwarder.config;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Cuts a configuration into lines while reading it, holding at most one line in memory.
 *
 * <p>Why bounds: {@code -c -f} is pointed at files of any origin, and a wrong one (a log, a core
 * dump, something that never ends) must end in one line naming the problem, not a heap that fills
 * up. So the whole input is at most {@link #MAX_BYTES} and a line at most {@link #MAX_LINE_BYTES}
 * (HAProxy's historical LINESIZE); a longer line is reported and skipped, its bytes counted but not
 * kept. A NUL byte means the input is not text at all: like HAProxy ("Stray NUL character"),
 * reading stops there, so a binary file gives one error rather than one per line of garbage.
 *
 * <p>Bytes that are not UTF-8 become U+FFFD and the line records where the first one was; whether
 * that matters (it does not inside a comment) is for the parser to say, since only the tokenizer
 * knows where a comment starts.
 */
final class LineReader {

    /** The largest configuration read: far beyond any real one, small enough to stay harmless. */
    static final long MAX_BYTES = 4L << 20;
    /** The longest line, its end (LF or CRLF) not counted. */
    static final int MAX_LINE_BYTES = 2048;

    /**
     * One line. Either {@code text} is set, or {@code problem} says why the line is unusable;
     * {@code stop} means nothing after it is read. {@code badIndex} is the index in {@code text}
     * of the first character that was not valid UTF-8 (-1 if none), described by {@code badNote}.
     */
    record Line(int number, String text, String problem, boolean stop, int badIndex, String badNote) {

        static Line unusable(int number, String problem, boolean stop) {
            return new Line(number, null, problem, stop, -1, null);
        }
    }

    private final InputStream in;
    private final byte[] buf = new byte[8192];
    private int pos;
    private int limit;
    private boolean eof;
    private long total;
    private int number;
    private boolean stopped;
    /** The line being read: at most MAX_LINE_BYTES plus a CR kept. */
    private final byte[] line = new byte[MAX_LINE_BYTES + 1];
    private final CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);

    LineReader(InputStream in) {
        this.in = in;
    }

    /** The next line, or null at the end of the input (or after a line that stopped the reading). */
    Line next() throws IOException {
        if (stopped) return null;
        long len = 0;          // bytes of this line so far, LF excluded; only the first line.length are kept
        int last = -1;         // the last byte of the line, to leave a CR out of the length
        boolean any = false;
        while (true) {
            if (pos == limit && !fill()) {
                if (!any) return null;
                break;
            }
            any = true;
            byte b = buf[pos++];
            if (++total > MAX_BYTES) {
                stopped = true;
                return Line.unusable(number + 1, "configuration file too large: more than " + MAX_BYTES
                        + " bytes (4 MiB); stopped reading here", true);
            }
            if (b == '\n') break;
            if (b == 0) {
                stopped = true;
                return Line.unusable(number + 1, "NUL byte at column " + (len + 1)
                        + ": this is not a text file; stopped reading here", true);
            }
            if (len < line.length) line[(int) len] = b;
            len++;
            last = b;
        }
        number++;
        long length = last == '\r' ? len - 1 : len;
        if (length > MAX_LINE_BYTES) {
            return Line.unusable(number, "line too long: " + length + " bytes, the limit is " + MAX_LINE_BYTES, false);
        }
        return decode((int) len);
    }

    private boolean fill() throws IOException {
        if (eof) return false;
        int n = in.read(buf, 0, buf.length);
        if (n <= 0) {
            eof = true;
            return false;
        }
        pos = 0;
        limit = n;
        return true;
    }

    /** The kept bytes as text: malformed sequences become U+FFFD and the first one is located. */
    private Line decode(int n) {
        ByteBuffer bytes = ByteBuffer.wrap(line, 0, n);
        CharBuffer chars = CharBuffer.allocate(n);    // UTF-8 never yields more chars than bytes
        utf8.reset();
        int badIndex = -1;
        String badNote = null;
        while (true) {
            CoderResult r = utf8.decode(bytes, chars, true);
            if (!r.isError()) break;
            if (badIndex < 0) {
                badIndex = chars.position();
                badNote = String.format("at column %d (byte 0x%02X)", bytes.position() + 1, line[bytes.position()] & 0xff);
            }
            chars.put('\uFFFD');
            bytes.position(bytes.position() + r.length());
        }
        utf8.flush(chars);
        return new Line(number, chars.flip().toString(), null, false, badIndex, badNote);
    }
}
