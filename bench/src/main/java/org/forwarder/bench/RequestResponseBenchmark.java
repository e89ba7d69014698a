package org.forwarder.bench;

import org.forwarder.Forwarder;
import org.forwarder.bench.load.EchoServer;
import org.forwarder.config.CommandLine;
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

import java.io.EOFException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.concurrent.TimeUnit;

/**
 * Latency of one small exchange through the forwarder: a 64-byte request on one persistent
 * connection, client -> forwarder -> echo backend and back, measured until all 64 bytes are read.
 * Blocking client socket with TCP_NODELAY, in the benchmark thread; the echo backend (one NIO
 * thread) and the forwarder (one poller thread) share the machine's other core. Sampled, so the
 * percentiles show the tail and not only the mean.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx1g"})
public class RequestResponseBenchmark {
    static final int MESSAGE_BYTES = 64;

    private EchoServer echo;
    private Forwarder forwarder;
    private SocketChannel client;
    private ByteBuffer request;
    private ByteBuffer response;

    @Setup(Level.Trial)
    public void setUp() throws IOException, ConfigException {
        echo = EchoServer.start(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 1);
        forwarder = startForwarder(echo.port());
        client = SocketChannel.open(new InetSocketAddress(InetAddress.getLoopbackAddress(),
                forwarder.boundAddresses().get(0).port()));
        client.setOption(StandardSocketOptions.TCP_NODELAY, true);
        request = ByteBuffer.allocateDirect(MESSAGE_BYTES);
        for (int i = 0; i < MESSAGE_BYTES; i++) request.put(i, (byte) i);
        response = ByteBuffer.allocateDirect(MESSAGE_BYTES);
    }

    /** The forwarder on an ephemeral 127.0.0.1 port in front of {@code backendPort}, copy mode. */
    static Forwarder startForwarder(int backendPort) throws IOException, ConfigException {
        String[] args = {"--listen", "127.0.0.1:0", "--server", "127.0.0.1:" + backendPort,
                "--timeout-client", "5m", "--timeout-server", "5m"};
        return Forwarder.start(CommandLine.parse(args).config(), System.err::println);
    }

    /** Writes the whole request and reads the whole echo on a blocking channel. */
    static void exchange(SocketChannel ch, ByteBuffer request, ByteBuffer response) throws IOException {
        request.clear();
        while (request.hasRemaining()) ch.write(request);
        response.clear();
        while (response.hasRemaining()) {
            if (ch.read(response) < 0) throw new EOFException("the echo ended after " + response.position() + " bytes");
        }
    }

    @Benchmark
    public ByteBuffer roundTrip() throws IOException {
        exchange(client, request, response);
        return response;
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        client.close();
        forwarder.close();
        echo.close();
    }
}
