package org.forwarder.bench;

import org.forwarder.Forwarder;
import org.forwarder.config.CommandLine;
import org.forwarder.config.ConfigException;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Forwarding throughput, copy against splice, over 1 or 8 persistent streams, for large and
 * small transfers. One operation pushes {@code transferBytes} through every stream (client ->
 * forwarder -> sink) and waits until the sink has them all; bytes per second = ops/s x
 * transferBytes x streams. The peers run in the benchmark thread (one NIO selector), the forwarder
 * on its own poller thread: the two cores of the reference machine.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 3)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx1g"})
public class ForwardingBenchmark {
    @Param({"copy", "splice"})
    public String mode;

    @Param({"1", "8"})
    public int streams;

    /** 4 MiB (a bulk transfer) or 16 KiB (one buffer: the small-message case). */
    @Param({"4194304", "16384"})
    public int transferBytes;

    private ServerSocketChannel sink;
    private Forwarder forwarder;
    private Selector selector;
    private final List<SocketChannel> clients = new ArrayList<>();
    private final List<SocketChannel> sinks = new ArrayList<>();
    private ByteBuffer out;
    private ByteBuffer in;
    private long[] toSend;
    private long[] toReceive;

    @Setup(Level.Trial)
    public void setUp() throws IOException, ConfigException {
        sink = ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
        List<String> args = new ArrayList<>(List.of(
                "--listen", "127.0.0.1:0",
                "--server", "127.0.0.1:" + ((InetSocketAddress) sink.getLocalAddress()).getPort(),
                "--timeout-client", "5m", "--timeout-server", "5m"));
        if (mode.equals("splice")) {
            args.add("--splice-request");
            args.add("--splice-response");
        }
        forwarder = Forwarder.start(CommandLine.parse(args.toArray(String[]::new)).config(), System.err::println);
        int port = forwarder.boundAddresses().get(0).port();
        selector = Selector.open();
        for (int i = 0; i < streams; i++) {
            SocketChannel c = SocketChannel.open(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
            SocketChannel s = sink.accept();
            c.configureBlocking(false);
            s.configureBlocking(false);
            c.register(selector, SelectionKey.OP_WRITE, i);
            s.register(selector, SelectionKey.OP_READ, streams + i);
            clients.add(c);
            sinks.add(s);
        }
        out = ByteBuffer.allocateDirect(256 << 10);
        in = ByteBuffer.allocateDirect(256 << 10);
        toSend = new long[streams];
        toReceive = new long[streams];
    }

    @Benchmark
    public long transfer() throws IOException {
        for (int i = 0; i < streams; i++) {
            toSend[i] = transferBytes;
            toReceive[i] = transferBytes;
        }
        int pendingStreams = streams;
        long received = 0;
        for (SelectionKey k : selector.keys()) {
            if ((int) k.attachment() < streams) k.interestOps(SelectionKey.OP_WRITE);
        }
        while (pendingStreams > 0) {
            selector.select(1000);
            for (SelectionKey k : selector.selectedKeys()) {
                int id = (int) k.attachment();
                if (id < streams) {
                    out.clear().limit((int) Math.min(out.capacity(), toSend[id]));
                    toSend[id] -= ((SocketChannel) k.channel()).write(out);
                    if (toSend[id] == 0) k.interestOps(0);
                } else {
                    int s = id - streams;
                    in.clear();
                    int n = ((SocketChannel) k.channel()).read(in);
                    if (n < 0) throw new IOException("sink stream " + s + " closed");
                    received += n;
                    toReceive[s] -= n;
                    if (toReceive[s] == 0) pendingStreams--;
                }
            }
            selector.selectedKeys().clear();
        }
        return received;
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        for (SocketChannel c : clients) c.close();
        for (SocketChannel s : sinks) s.close();
        selector.close();
        forwarder.close();
        sink.close();
    }
}
