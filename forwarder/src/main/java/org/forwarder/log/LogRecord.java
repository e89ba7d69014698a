package org.forwarder.log;

/**
 * The fields of a connection's log record in a {@link LogRing} slot: what a TCP log line needs
 * from the session, as plain numbers taken at the end of the stream (HAProxy logs then too).
 * Addresses are 16 bytes as two longs (an IPv4 address in the low 4 bytes of the second) plus
 * the family; times are milliseconds, -1 for a phase never reached.
 */
public final class LogRecord {
    private LogRecord() {}

    public static final int CLIENT_FAMILY = 0;
    public static final int CLIENT_HI = 1;
    public static final int CLIENT_LO = 2;
    public static final int CLIENT_PORT = 3;
    public static final int FRONT_FAMILY = 4;
    public static final int FRONT_HI = 5;
    public static final int FRONT_LO = 6;
    public static final int FRONT_PORT = 7;
    /** Accept date, milliseconds since the epoch. */
    public static final int ACCEPT_MS = 8;
    public static final int T_WAIT = 9;
    public static final int T_CONNECT = 10;
    public static final int T_TOTAL = 11;
    /** Bytes from the server to the client (%B) and from the client to the server (%U). */
    public static final int BYTES_OUT = 12;
    public static final int BYTES_IN = 13;
    /** The two termination-state characters: first in bits 8-15, second in bits 0-7. */
    public static final int TERM = 14;
    public static final int ACTCONN = 15;
    public static final int FECONN = 16;
    public static final int BECONN = 17;
    public static final int SRVCONN = 18;
    public static final int RETRIES = 19;
    /** 1 when the stream was redispatched to another server (%rc gets a '+'). */
    public static final int REDISPATCHED = 20;
    public static final int SRV_QUEUE = 21;
    public static final int BACKEND_QUEUE = 22;
    public static final int FIELDS = 23;
}
