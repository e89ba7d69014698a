package org.forwarder.log;

/**
 * Where the process's events go besides standard error: the global {@code log} targets, as
 * HAProxy sends its notices and alerts ("Proxy X stopped", "Server b/s is going DOWN for
 * maintenance", ...) to its global log. Any thread may call it; it never blocks (a line that
 * does not fit the writer's queue is dropped and counted). The runtime API reports server state
 * changes here, with HAProxy's wording and levels.
 */
public interface EventLog {

    /** Sends {@code message} (one line, no trailing newline) at syslog level {@code level} (0 emerg .. 7 debug). */
    void send(int level, String message);

    default void emerg(String message) { send(0, message); }

    default void alert(String message) { send(1, message); }

    default void warning(String message) { send(4, message); }

    default void notice(String message) { send(5, message); }

    default void info(String message) { send(6, message); }

    /** Logs nothing: no global log target. */
    EventLog NONE = (level, message) -> { };
}
