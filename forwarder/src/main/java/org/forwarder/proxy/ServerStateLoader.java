package org.forwarder.proxy;

import org.forwarder.config.BackendConfig;
import org.forwarder.config.Config;
import org.forwarder.config.ServerStateLoad;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * HAProxy's seamless reload of server states: before the loops start, backends with
 * {@code load-server-state-from-file global|local} take their servers' states from the file a
 * previous process wrote with {@code show servers state} (version 1, the dump our CLI prints).
 *
 * <p>What is applied, as HAProxy 2.6 does for a server found by backend and server name: a
 * forced maintenance (admin bit 0x01) or drain (0x08); the user weight, only when the file's
 * initial weight is the configuration's (a changed configuration wins); for a server with
 * health checks, its operational state and health counter (a server that was DOWN starts DOWN
 * and needs {@code rise} good checks). Servers without checks are always up here, so their
 * operational state is not taken. A missing file, an unknown version, a malformed line, or a
 * backend or server the configuration no longer has are warnings, never errors: the process
 * starts with the configuration's states for what could not be taken, as HAProxy does.
 */
public final class ServerStateLoader {
    private static final int FIELDS_MIN = 15; // up to srv_agent_state: what the states need
    private static final int BE_NAME = 1;
    private static final int SRV_NAME = 3;
    private static final int OP_STATE = 5;
    private static final int ADMIN_STATE = 6;
    private static final int UWEIGHT = 7;
    private static final int IWEIGHT = 8;
    private static final int CHECK_HEALTH = 12;

    private ServerStateLoader() {}

    /** Applies the state files of {@code config} to {@code proxies} (before any loop runs); warnings to {@code log}. */
    public static void load(Config config, Proxies proxies, Consumer<String> log) {
        String globalPath = config.global().serverState().path();
        String base = config.global().serverState().base();
        Map<String, List<String>> files = new HashMap<>();
        for (BackendConfig bc : config.backends().values()) {
            ServerStateLoad sl = bc.stateLoad();
            if (sl.mode() == ServerStateLoad.Mode.NONE) continue;
            String path = sl.mode() == ServerStateLoad.Mode.GLOBAL ? globalPath : sl.localFile(bc.name(), base);
            if (path == null) {
                log.accept("warning: backend '" + bc.name() + "' loads its server states from the global "
                        + "server-state-file, which is not set: states from the configuration");
                continue;
            }
            List<String> lines = files.computeIfAbsent(path, p -> read(p, log));
            if (lines == null) continue;
            apply(path, lines, proxies.backend(bc.name()), log);
        }
    }

    private static List<String> read(String path, Consumer<String> log) {
        try {
            List<String> lines = Files.readAllLines(Path.of(path), StandardCharsets.UTF_8);
            if (lines.isEmpty() || !lines.getFirst().strip().equals("1")) {
                log.accept("warning: server state file '" + path + "': unknown version "
                        + (lines.isEmpty() ? "(empty file)" : "'" + lines.getFirst().strip() + "'") + ", expected '1': ignored");
                return null;
            }
            return lines;
        } catch (NoSuchFileException e) {
            log.accept("warning: server state file '" + path + "' does not exist: states from the configuration");
            return null;
        } catch (IOException | RuntimeException e) {
            log.accept("warning: server state file '" + path + "' cannot be read (" + e.getMessage() + "): ignored");
            return null;
        }
    }

    /** The lines of {@code path} that name backend {@code be}. */
    private static void apply(String path, List<String> lines, Backend be, Consumer<String> log) {
        for (int n = 2; n <= lines.size(); n++) {
            String line = lines.get(n - 1).strip();
            if (line.isEmpty() || line.startsWith("#")) continue;
            String[] f = line.split("\\s+");
            if (f.length < FIELDS_MIN) {
                log.accept("warning: " + path + ":" + n + ": " + f.length + " fields, at least " + FIELDS_MIN + " expected: ignored");
                continue;
            }
            if (!f[BE_NAME].equals(be.name())) continue;
            Server sv = be.server(f[SRV_NAME]);
            if (sv == null) {
                log.accept("warning: " + path + ":" + n + ": backend '" + be.name() + "' has no server '" + f[SRV_NAME] + "' any more: ignored");
                continue;
            }
            int op, admin, uweight, iweight, health;
            try {
                op = Integer.parseInt(f[OP_STATE]);
                admin = Integer.parseInt(f[ADMIN_STATE]);
                uweight = Integer.parseInt(f[UWEIGHT]);
                iweight = Integer.parseInt(f[IWEIGHT]);
                health = Integer.parseInt(f[CHECK_HEALTH]);
            } catch (NumberFormatException e) {
                log.accept("warning: " + path + ":" + n + ": a state field is not a number: ignored");
                continue;
            }
            if (op < 0 || op > 3 || admin < 0 || uweight < 0 || uweight > Server.MAX_WEIGHT || health < 0) {
                log.accept("warning: " + path + ":" + n + ": a state field is out of range: ignored");
                continue;
            }
            int state = (admin & Server.MAINT) != 0 ? Server.MAINT : (admin & Server.DRAIN) != 0 ? Server.DRAIN : -1;
            int weight = iweight == sv.initialWeight() ? uweight : -1;
            be.change(sv, state, weight, -1);
            if (sv.op.checked()) sv.op.restore(op != 0, health);
        }
    }
}
