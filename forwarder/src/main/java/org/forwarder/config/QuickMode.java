package org.forwarder.config;

import org.forwarder.config.ProxyDraft.Kind;
import org.forwarder.sys.SockAddr;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Builds the configuration of quick mode from command-line flags: one listen-style proxy named
 * "quick". It goes through the same ProxyDraft and ConfigAssembler as a file, so both modes get
 * the same checks, defaults and warnings. Errors name the flag.
 *
 * <p>--no-splice together with a --splice-* flag is an error: on one command line, "splice" and
 * "never splice" contradict each other. (In a file, global {@code nosplice} over proxies with
 * {@code option splice-*} stays a warning, as in HAProxy, where the global switch is meant to
 * override the sections without editing them.) Redundant but consistent flags, such as
 * --maxpipes with --no-splice, are accepted.
 */
final class QuickMode {

    static final String NAME = "quick";
    /** Quick mode is for trying things out; an unreachable server should fail fast, not hang. */
    static final long DEFAULT_CONNECT_MS = 5_000;

    private static final Map<String, String> VALUE_FLAGS = Map.ofEntries(
            Map.entry("--listen", "ADDR:PORT"), Map.entry("--server", "ADDR:PORT"),
            Map.entry("--balance", "roundrobin or leastconn"), Map.entry("--maxconn", "a number"),
            Map.entry("--maxpipes", "a number"), Map.entry("--bufsize", "a size in bytes"),
            Map.entry("--timeout-connect", "a duration such as 5s"), Map.entry("--timeout-client", "a duration such as 30s"),
            Map.entry("--timeout-server", "a duration such as 30s"), Map.entry("--timeout-tunnel", "a duration such as 1h"),
            Map.entry("--retries", "a number"), Map.entry("--nbthread", "a number of event loops from 1 to " + GlobalConfig.MAX_NBTHREAD));

    private static final List<String> SWITCHES = List.of("--splice-request", "--splice-response", "--splice-auto", "--no-splice");
    private static final List<String> REPEATABLE = List.of("--listen", "--server");

    private final List<String> errors;
    private final ProxyDraft proxy = new ProxyDraft(Kind.LISTEN, NAME, 0, new ProxyDraft());
    private final Map<SockAddr, String> listens = new HashMap<>();
    private final List<String> serverArgs = new ArrayList<>();
    private int maxconn = GlobalConfig.DEFAULT_MAXCONN;
    private int maxpipes = -1;
    private int bufsize = GlobalConfig.DEFAULT_BUFSIZE;
    private boolean noSplice;
    private int nbthread = GlobalConfig.AUTO_NBTHREAD;
    /** The first --splice-* flag given, to name in the contradiction with --no-splice; null if none. */
    private String spliceFlag;

    QuickMode(List<String> errors) {
        this.errors = errors;
        proxy.timeouts = Timeouts.NONE.with(Timeouts.Kind.CONNECT, DEFAULT_CONNECT_MS);
    }

    static boolean takesValue(String flag) {
        return VALUE_FLAGS.containsKey(flag);
    }

    static boolean isSwitch(String flag) {
        return SWITCHES.contains(flag);
    }

    static String valueHint(String flag) {
        return VALUE_FLAGS.get(flag);
    }

    /** True for the flags that may be given more than once (each adds one). */
    static boolean repeats(String flag) {
        return REPEATABLE.contains(flag);
    }

    /** Applies one flag; {@code value} is null for switches. */
    void set(String flag, String value) {
        try {
            switch (flag) {
                case "--listen" -> listen(value);
                case "--server" -> {
                    Addresses.server(value);   // check now so the error names the flag
                    serverArgs.add(value);
                }
                case "--balance" -> proxy.balance = switch (value) {
                    case "roundrobin" -> Balance.ROUNDROBIN;
                    case "leastconn" -> Balance.LEASTCONN;
                    default -> throw new IllegalArgumentException("'" + value + "' is not supported: use roundrobin or leastconn");
                };
                case "--maxconn" -> maxconn = Values.integer(value, 1, Integer.MAX_VALUE);
                case "--maxpipes" -> maxpipes = Values.integer(value, 0, Integer.MAX_VALUE);
                case "--bufsize" -> bufsize = Values.size(value, GlobalConfig.MIN_BUFSIZE, GlobalConfig.MAX_BUFSIZE);
                case "--timeout-connect" -> timeout(Timeouts.Kind.CONNECT, value);
                case "--timeout-client" -> timeout(Timeouts.Kind.CLIENT, value);
                case "--timeout-server" -> timeout(Timeouts.Kind.SERVER, value);
                case "--timeout-tunnel" -> timeout(Timeouts.Kind.TUNNEL, value);
                case "--retries" -> proxy.retries = Values.integer(value, 0, Integer.MAX_VALUE);
                case "--nbthread" -> nbthread = Values.integer(value, 1, GlobalConfig.MAX_NBTHREAD);
                case "--splice-request", "--splice-response", "--splice-auto" -> splice(flag);
                case "--no-splice" -> {
                    noSplice = true;
                    if (spliceFlag != null) contradiction();
                }
                default -> throw new IllegalStateException("not a quick-mode flag: " + flag);
            }
        } catch (IllegalArgumentException e) {
            errors.add("'" + flag + "' " + e.getMessage());
        }
    }

    /** The quick-mode Config, or null after adding to the errors why there is none. */
    Config build() {
        if (listens.isEmpty() && serverArgs.isEmpty()) {
            errors.add("no configuration: give -f FILE, or --listen ADDR:PORT and --server ADDR:PORT (see --help)");
            return null;
        }
        if (listens.isEmpty()) errors.add("'--listen' is missing: quick mode needs at least one address to listen on");
        if (serverArgs.isEmpty()) errors.add("'--server' is missing: quick mode needs at least one server");
        if (!errors.isEmpty()) return null;
        int n = 0;
        for (String s : serverArgs) {
            String name = "s" + (++n);
            proxy.servers.put(name, new ServerConfig(name, Addresses.server(s), ServerConfig.DEFAULT_WEIGHT, 0,
                    "command line: --server " + s));
        }
        GlobalConfig global = new GlobalConfig(maxconn, maxpipes < 0 ? GlobalConfig.defaultMaxpipes(maxconn) : maxpipes,
                nbthread, bufsize, 0, GlobalConfig.DEFAULT_BUFFERS_RESERVE, 0, noSplice);
        Diagnostics diag = new Diagnostics("command line");
        Config config = new ConfigAssembler(diag).assemble(global, List.of(proxy));
        errors.addAll(diag.errors());
        return config;
    }

    /** Checked as the flags come, like their values, so that it is reported even with --help. */
    private void splice(String flag) {
        if (spliceFlag == null) {
            spliceFlag = flag;
            if (noSplice) contradiction();
        }
        proxy.splice = switch (flag) {
            case "--splice-request" -> proxy.splice.withRequest(true);
            case "--splice-response" -> proxy.splice.withResponse(true);
            default -> proxy.splice.withAuto(true);
        };
    }

    private void contradiction() {
        errors.add("'--no-splice' contradicts '" + spliceFlag + "': splicing cannot be both off and on, give one of them");
    }

    private void listen(String value) {
        for (SockAddr a : Addresses.bindList(value)) {
            String where = "command line: --listen " + value;
            String first = listens.putIfAbsent(a, where);
            if (first != null) throw new IllegalArgumentException("address " + a + " is given twice");
            proxy.binds.add(new BindConfig(a, where));
        }
    }

    private void timeout(Timeouts.Kind kind, String value) {
        proxy.timeouts = proxy.timeouts.with(kind, Values.timeMs(value));
    }
}
