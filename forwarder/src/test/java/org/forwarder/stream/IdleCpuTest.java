package org.forwarder.stream;

import org.forwarder.Forwarder;
import org.forwarder.config.CommandLine;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** 1,000 idle connections cost the event loop (almost) nothing: it sleeps until a timer or an event. */
class IdleCpuTest {
    @Test
    @Timeout(60)
    void thousandIdleConnectionsLeaveTheLoopAsleep() throws Exception {
        List<Socket> serverSide = new CopyOnWriteArrayList<>();
        List<Socket> clients = new ArrayList<>();
        try (ServerSocket server = new ServerSocket(0, 1024, InetAddress.getLoopbackAddress())) {
            Thread acceptor = Thread.ofPlatform().daemon().start(() -> {
                try {
                    while (true) serverSide.add(server.accept());
                } catch (Exception e) {
                    // closed at the end
                }
            });
            String[] args = {"--listen", "127.0.0.1:0", "--server", "127.0.0.1:" + server.getLocalPort(),
                    "--timeout-client", "1m", "--timeout-server", "1m"};
            try (Forwarder fw = Forwarder.start(CommandLine.parse(args).config(), m -> { })) {
                InetSocketAddress at = new InetSocketAddress(InetAddress.getLoopbackAddress(), fw.boundAddresses().get(0).port());
                for (int i = 0; i < 1000; i++) {
                    Socket c = new Socket();
                    c.connect(at, 5000);
                    clients.add(c);
                }
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                while ((fw.stats().active() < 1000 || serverSide.size() < 1000) && System.nanoTime() < deadline) {
                    Thread.sleep(20);
                }
                assertEquals(1000, fw.stats().active());
                Thread.sleep(300); // let the first epoll_ctl round settle
                long cpu0 = fw.pollerCpuNanos();
                long passes0 = fw.stats().passes();
                Thread.sleep(2000);
                long cpuMs = (fw.pollerCpuNanos() - cpu0) / 1_000_000;
                long passes = fw.stats().passes() - passes0;
                assertTrue(cpuMs < 100, "idle loop used " + cpuMs + " ms CPU in 2 s");
                assertTrue(passes < 50, "idle loop woke " + passes + " times in 2 s");
            } finally {
                for (Socket c : clients) c.close();
                server.close();
                for (Socket s : serverSide) s.close();
                acceptor.join(5000);
            }
        }
    }
}
