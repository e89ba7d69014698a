package org.forwarder.bench;

import org.forwarder.Forwarder;
import org.forwarder.bench.load.EchoServer;
import org.forwarder.config.ConfigException;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.concurrent.TimeUnit;

/**
 * Connection churn through the forwarder: per operation, connect, send 64 bytes, read the 64-byte
 * echo, close; so each operation costs the forwarder an accept, a backend connect, two relayed
 * messages and two closes. The client closes first (normal FIN), leaving TIME_WAIT on the client
 * side; on loopback Linux reuses those ports for new connects (tcp_tw_reuse = 2, the default),
 * which is what lets a run of tens of thousands of connections fit the ephemeral port range.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx1g"})
public class ConnectionRateBenchmark {
    private EchoServer echo;
    private Forwarder forwarder;
    private InetSocketAddress target;
    private ByteBuffer request;
    private ByteBuffer response;

    @Setup(Level.Trial)
    public void setUp() throws IOException, ConfigException {
        echo = EchoServer.start(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 1);
        forwarder = RequestResponseBenchmark.startForwarder(echo.port());
        target = new InetSocketAddress(InetAddress.getLoopbackAddress(), forwarder.boundAddresses().get(0).port());
        request = ByteBuffer.allocateDirect(RequestResponseBenchmark.MESSAGE_BYTES);
        response = ByteBuffer.allocateDirect(RequestResponseBenchmark.MESSAGE_BYTES);
    }

    @Benchmark
    public ByteBuffer connectExchangeClose() throws IOException {
        try (SocketChannel ch = SocketChannel.open(target)) {
            ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
            RequestResponseBenchmark.exchange(ch, request, response);
        }
        return response;
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        forwarder.close();
        echo.close();
    }
}
