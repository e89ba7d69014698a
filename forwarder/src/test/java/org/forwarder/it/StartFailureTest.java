package org.forwarder.it;

import org.forwarder.Forwarder;
import org.forwarder.config.ConfigParser;
import org.forwarder.sys.Errno;
import org.forwarder.sys.SockAddr;
import org.forwarder.sys.Syscalls;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertThrows;

/** A start that fails on loop 1 (its bind, after loop 0 bound; or its poller) leaves no fd behind and names the loop. */
class StartFailureTest {
    static final AtomicInteger made = new AtomicInteger();
    static volatile String failOn = "";

    static final class Sys extends Syscalls {
        final int index = made.getAndIncrement();
        @Override public int bind(int fd, SockAddr a) {
            return failOn.equals("bind") && index == 1 ? -Errno.EADDRINUSE : super.bind(fd, a);
        }
        @Override public int eventfd(int init, int flags) {
            return failOn.equals("eventfd") && index == 1 ? -Errno.EMFILE : super.eventfd(init, flags);
        }
    }

    private static final String CFG = """
            global
                nbthread 2
            defaults
                mode tcp
                timeout connect 2s
                timeout client 5s
                timeout server 5s
            listen l
                bind 127.0.0.1:0
                server s 127.0.0.1:9
            """;

    private String failsCleanly(String what) throws Exception {
        Peers.warmUpJdkIo();
        Map<String, Integer> before = Peers.fdKinds();
        made.set(0);
        failOn = what;
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> Forwarder.start(ConfigParser.parse(CFG, "x.cfg"), System.out::println, Sys::new));
        System.out.println(what + ": " + e.getMessage());
        failOn = "";
        Peers.awaitFdsBackTo(before, 2, Duration.ofSeconds(3));
        return e.getMessage();
    }

    @Test @Timeout(30) void bindFailsOnSecondLoop() throws Exception { failsCleanly("bind"); }
    @Test @Timeout(30) void pollerFailsOnSecondLoop() throws Exception {
        String message = failsCleanly("eventfd");
        org.junit.jupiter.api.Assertions.assertTrue(message.startsWith("event loop 1 of 2: eventfd: EMFILE"), message);
    }
}
