package org.forwarder.config;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * The command line: either {@code -f FILE} (HAProxy-syntax configuration) or "quick mode", where
 * {@code --listen} and {@code --server} flags describe a single proxy named "quick". Long flags
 * take their value as the next argument or after '=' ({@code --maxconn=100}). Only --listen and
 * --server repeat; any other flag given twice is an error rather than last-one-wins, since one of
 * the two values would be dropped without a word.
 */
public final class CommandLine {

    public enum Action { RUN, CHECK, HELP, VERSION }

    /** How to start the packaged forwarder; shown in the help text. */
    public static final String LAUNCH = "java --enable-native-access=ALL-UNNAMED -jar forwarder/target/forwarder.jar -f etc/forwarder.cfg";

    private final Action action;
    private final Path configFile;
    private final String configName;
    private final Config quickConfig;

    private CommandLine(Action action, Path configFile, String configName, Config quickConfig) {
        this.action = action;
        this.configFile = configFile;
        this.configName = configName;
        this.quickConfig = quickConfig;
    }

    /**
     * Reads {@code args}. Quick-mode flags are fully checked here; a {@code -f} file is only read
     * by {@link #config()}. Every problem found is reported, each naming its flag.
     */
    public static CommandLine parse(String[] args) throws ConfigException {
        return parse(args, FileArgument::fromProc);
    }

    /** As {@link #parse(String[])}, with the raw bytes of the arguments (for a -f name the JVM could not decode) from {@code raw}. */
    static CommandLine parse(String[] args, FileArgument.RawArgs raw) throws ConfigException {
        List<String> errors = new ArrayList<>();
        QuickMode quick = new QuickMode(errors);
        boolean help = false;
        boolean version = false;
        boolean check = false;
        FileArgument.Resolved file = null;
        String fileArg = null;
        List<String> quickFlags = new ArrayList<>();
        Map<String, String[]> seen = new HashMap<>();   // canonical flag -> {spelling, value or null}
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            String flag = arg;
            String inline = null;
            int eq = arg.indexOf('=');
            if (arg.startsWith("--") && eq > 0) {
                flag = arg.substring(0, eq);
                inline = arg.substring(eq + 1);
            }
            switch (flag) {
                case "-h", "--help" -> help |= once("--help", flag, null, seen, errors) && noValue(flag, inline, errors);
                case "-v", "--version" -> version |= once("--version", flag, null, seen, errors) && noValue(flag, inline, errors);
                case "-c" -> check |= once("-c", flag, null, seen, errors) && noValue(flag, inline, errors);
                case "-f" -> {
                    String value = i + 1 < args.length && isValue(args[i + 1]) ? args[++i] : null;
                    if (value == null) {
                        errors.add("'-f' needs a value: the configuration file");
                    } else if (fileArg != null) {
                        errors.add("'-f' given twice ('" + fileArg + "' and '" + value + "'): forwarder reads one file");
                    } else {
                        fileArg = value;
                        try {
                            file = FileArgument.resolve(args, i, raw);
                        } catch (IllegalArgumentException e) {
                            errors.add("'-f' '" + value + "': " + e.getMessage());
                        }
                    }
                }
                default -> {
                    if (QuickMode.takesValue(flag)) {
                        String value = inline;
                        if (value == null && i + 1 < args.length && isValue(args[i + 1])) value = args[++i];
                        if (value == null) {
                            errors.add("'" + flag + "' needs a value: " + QuickMode.valueHint(flag));
                        } else if (QuickMode.repeats(flag) || once(flag, flag, value, seen, errors)) {
                            quick.set(flag, value);
                        }
                        quickFlags.add(flag);
                    } else if (QuickMode.isSwitch(flag)) {
                        if (noValue(flag, inline, errors) && once(flag, flag, null, seen, errors)) quick.set(flag, null);
                        quickFlags.add(flag);
                    } else if (arg.startsWith("-")) {
                        errors.add("unknown option '" + flag + "' (see --help)");
                    } else {
                        errors.add("unexpected argument '" + arg + "' (see --help)");
                    }
                }
            }
        }
        Action action = help ? Action.HELP : version ? Action.VERSION : check ? Action.CHECK : Action.RUN;
        Config quickConfig = null;
        if (fileArg != null && !quickFlags.isEmpty()) {
            errors.add("'" + quickFlags.getFirst() + "' cannot be combined with -f: use either a configuration file "
                    + "or the quick-mode flags (set it in the file instead)");
        } else if (fileArg == null && errors.isEmpty() && (action == Action.RUN || action == Action.CHECK)) {
            quickConfig = quick.build();
        }
        if (!errors.isEmpty()) throw new ConfigException(errors);
        return new CommandLine(action, file == null ? null : file.path(), file == null ? null : file.name(), quickConfig);
    }

    /** What the user asked for; HELP beats VERSION beats CHECK beats RUN. */
    public Action action() {
        return action;
    }

    /** The {@code -f} file, or null in quick mode. */
    public Path configFile() {
        return configFile;
    }

    /** The {@code -f} file as the user named it (for messages), or null in quick mode. */
    public String configName() {
        return configName;
    }

    /**
     * The configuration to run or check: the {@code -f} file parsed now, or the quick-mode proxy.
     *
     * @throws ConfigException if the file cannot be read or is invalid
     * @throws IllegalStateException for {@code --help}/{@code --version} without any configuration
     */
    public Config config() throws ConfigException {
        if (configFile != null) return ConfigParser.parse(configFile, configName);
        if (quickConfig != null) return quickConfig;
        throw new IllegalStateException("no configuration was given on the command line");
    }

    /** The help text: usage lines, the launch line, then one line per flag. */
    public static String usage() {
        return """
                Usage: forwarder [-c] -f FILE
                       forwarder [-c] --listen ADDR:PORT --server ADDR:PORT [options]
                Launch: %s

                Forwards TCP connections, configured in HAProxy syntax (-f) or by flags (quick mode).
                  -f FILE                  read the configuration from FILE (HAProxy syntax, mode tcp)
                  -c                       check the configuration, print warnings and exit (0 if valid)
                  -h, --help               print this help and exit
                  -v, --version            print the version and exit
                Quick mode (one proxy named "quick"; cannot be combined with -f):
                  --listen ADDR:PORT       accept connections on ADDR:PORT (repeatable; :PORT = all IPv4)
                  --server ADDR:PORT       forward to this server (repeatable; named s1, s2, ...)
                  --balance ALGO           roundrobin (default) or leastconn
                  --splice-request         splice client-to-server data through a kernel pipe
                  --splice-response        splice server-to-client data through a kernel pipe
                  --splice-auto            let forwarder decide when to splice
                  --no-splice              never splice (an error together with a --splice-* flag)
                  --maxconn N              maximum concurrent connections (default 4096)
                  --maxpipes N             maximum kernel pipes for splicing (default maxconn/4)
                  --bufsize N              buffer size in bytes, k/m suffixes allowed (default 16384)
                  --timeout-connect T      time to establish a server connection (default 5s)
                  --timeout-client T       maximum client inactivity (default: none)
                  --timeout-server T       maximum server inactivity (default: none)
                  --timeout-tunnel T       inactivity limit for established connections (default: none)
                  --retries N              connection attempts to retry on failure (default 3)
                  --nbthread N             event loops, one thread each (default: one per usable CPU)
                Times T take a unit: us, ms (default), s, m, h, d. Flags accept --flag=value too.
                Only --listen and --server may be given more than once.
                """.formatted(LAUNCH);
    }

    /** The version baked into the jar at build time, or "unknown" when run from loose classes. */
    public static String version() {
        try (InputStream in = CommandLine.class.getResourceAsStream("/forwarder-version.properties")) {
            if (in == null) return "unknown";
            Properties p = new Properties();
            p.load(in);
            String v = p.getProperty("version", "unknown");
            return v.startsWith("${") ? "unknown" : v;
        } catch (IOException e) {
            return "unknown";
        }
    }

    private static boolean noValue(String flag, String inline, List<String> errors) {
        if (inline == null) return true;
        errors.add("'" + flag + "' takes no value, got '" + inline + "'");
        return false;
    }

    /**
     * True the first time {@code canonical} is met; after that, adds "given twice" and returns false.
     * {@code value} is the flag's value, shown in the error, or null for switches.
     */
    private static boolean once(String canonical, String flag, String value, Map<String, String[]> seen, List<String> errors) {
        String[] first = seen.putIfAbsent(canonical, new String[] {flag, value});
        if (first == null) return true;
        errors.add("'" + flag + "' given twice" + (first[0].equals(flag) ? "" : " (first as '" + first[0] + "')")
                + (value == null ? "" : " ('" + first[1] + "' and '" + value + "')") + ": give it once");
        return false;
    }

    /**
     * Whether the argument after a flag that takes a value is that value. One that looks like a
     * flag means the value was forgotten; but a negative number ("--maxconn -1") is a value, a
     * wrong one, to be reported as such (no flag starts with a digit).
     */
    private static boolean isValue(String arg) {
        return !(arg.length() > 1 && arg.startsWith("-")) || Character.isDigit(arg.charAt(1));
    }
}
