package org.forwarder.it;

import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.Fw;
import org.forwarder.proxy.Server;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The named health checks against the real servers of Debian's packages, each started by the
 * test on 127.0.0.1 (see {@link LocalService}): a healthy server is UP, then broken ways are DOWN
 * with the status and info HAProxy 2.6.12 reports for the same servers (checked by running
 * /usr/sbin/haproxy with the same backends against them):
 * <ul>
 * <li>any check, a port where nothing listens, or the service stopped: L4CON,
 *     "Connection refused";</li>
 * <li>{@code option redis-check}, a redis with {@code requirepass}: L7TOUT (it answers
 *     "-NOAUTH Authentication required." and keeps the connection; the expected "+PONG" could
 *     still come, so the check waits for it until its timeout, here inter);</li>
 * <li>{@code option pgsql-check user U}, U rejected by pg_hba.conf: L7RSP, info "FATAL" (the
 *     error's severity). A role that does not exist but is trusted is UP in HAProxy too (the
 *     server says "authentication ok" before it looks the role up), and so is a role that must
 *     give a SCRAM password (HAProxy 2.6 accepts the SASL request: the server is alive);</li>
 * <li>{@code option mysql-check user U}, U unknown: L7STS, info the server's message,
 *     "#28000Access denied for user 'U'@'localhost' (using password: NO)", code 1045 (in the
 *     log line and show stat's check_code; a pass has code 0, a layer 4 failure none).</li>
 * </ul>
 * A stopped service may first fail otherwise while it shuts down (PostgreSQL answers
 * "FATAL: the database system is shutting down"), as it does with HAProxy; the test waits
 * for L4CON once its process ended.
 * Checks every 100 ms, so each test takes a few seconds, most of it the servers' own start.
 */
class NamedChecksTest {
    @RegisterExtension
    final Cleanup cleanup = new Cleanup();

    private static final Duration WAIT = Duration.ofSeconds(15);

    private static Server srv(Fw fw, String backend, String name) {
        return fw.fw.proxies().backend(backend).server(name);
    }

    private static void awaitStatus(Fw fw, String backend, String name, boolean up, String status) {
        Server sv = srv(fw, backend, name);
        Peers.waitUntil(backend + "/" + name + (up ? " UP " : " DOWN ") + status, WAIT,
                () -> sv.up() == up && status.equals(sv.op.status), () -> "status " + sv.op.status + ", log " + fw.log);
    }

    private static void assertLogged(Fw fw, String start, String... parts) {
        boolean found = Peers.await(WAIT, () -> fw.log.stream().anyMatch(l -> {
            if (!l.startsWith(start)) return false;
            for (String p : parts) if (!l.contains(p)) return false;
            return true;
        }));
        assertTrue(found, "a log line starting with " + start + " " + List.of(parts) + " in " + fw.log);
    }

    /** The cells {@code columns} of show stat's row of {@code backend}/{@code server}, "* " (a check under way) cut. */
    private static List<String> cells(String csv, String backend, String server, String... columns) {
        String[] lines = csv.split("\n");
        List<String> head = List.of(lines[0].substring(2).split(",", -1));
        for (String line : lines) {
            String[] c = line.split(",", -1);
            if (c.length < 2 || !c[0].equals(backend) || !c[1].equals(server)) continue;
            List<String> out = new java.util.ArrayList<>();
            for (String col : columns) {
                String v = c[head.indexOf(col)];
                out.add(v.startsWith("* ") ? v.substring(2) : v);
            }
            return out;
        }
        throw new AssertionError("no row " + backend + "/" + server + " in " + csv);
    }

    private static String refused(String backend, String server) {
        return "alert: Server " + backend + "/" + server + " is DOWN, reason: Layer4 connection problem, info: \"Connection refused\"";
    }

    /** The backends, behind a frontend for the first one (a configuration needs something to forward). */
    /**
     * After the server was stopped: DOWN, and once its process ended its port refuses (L4CON). A
     * server shutting down may first answer otherwise (PostgreSQL "FATAL: the database system
     * is shutting down", MariaDB closing at once), and the DOWN line tells that first failure.
     */
    private static void stoppedIsDown(Fw fw, String backend) {
        awaitStatus(fw, backend, "ok", false, "L4CON");
        assertLogged(fw, "alert: Server " + backend + "/ok is DOWN, reason: ");
    }

    private Fw start(String backends) throws Exception {
        return start("", backends);
    }

    private Fw start(String global, String backends) throws Exception {
        String first = backends.substring("backend ".length(), backends.indexOf('\n'));
        return Peers.startText(cleanup, global + Peers.defaults("20s", "default-server inter 100 rise 1 fall 1") + """
                frontend fe
                    bind 127.0.0.1:0
                    default_backend %s
                """.formatted(first) + backends);
    }

    private LocalService redis(String... more) throws Exception {
        Path bin = Path.of("/usr/bin/redis-server");
        LocalService.assumeInstalled(bin, "redis-server");
        LocalService r = cleanup.add(LocalService.prepare("redis"));
        List<String> cmd = new java.util.ArrayList<>(List.of(bin.toString(), "--port", "" + r.port(), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", r.dir().toString()));
        cmd.addAll(List.of(more));
        r.start(cmd);
        return r;
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void redisCheckAgainstRedisServer() throws Exception {
        LocalService ok = redis();
        LocalService locked = redis("--requirepass", "secret");
        int dead = Peers.deadPort();
        Fw fw = start("""
                backend rd
                    option redis-check
                    server ok 127.0.0.1:%d check
                    server locked 127.0.0.1:%d check
                    server wrongport 127.0.0.1:%d check
                """.formatted(ok.port(), locked.port(), dead));
        awaitStatus(fw, "rd", "ok", true, "L7OK");
        awaitStatus(fw, "rd", "locked", false, "L7TOUT");
        assertLogged(fw, "alert: Server rd/locked is DOWN, reason: Layer7 timeout, check duration: ");
        awaitStatus(fw, "rd", "wrongport", false, "L4CON");
        assertLogged(fw, refused("rd", "wrongport"));

        ok.stop();
        stoppedIsDown(fw, "rd");
        assertEquals(1, srv(fw, "rd", "ok").op.downs());
        assertLogged(fw, refused("rd", "ok")); // redis stops listening at once
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void pgsqlCheckAgainstPostgresql() throws Exception {
        LocalService.assumeInstalled(LocalService.PG_BIN.resolve("postgres"), "postgresql-15");
        LocalService pg = cleanup.add(LocalService.prepare("postgres"));
        if (LocalService.root()) pg.giveToNobody();
        Path data = pg.dir().resolve("data");
        pg.run(Duration.ofSeconds(40), LocalService.asPostgresUser(List.of(LocalService.PG_BIN.resolve("initdb").toString(),
                "-D", data.toString(), "-U", "postgres", "-A", "trust", "--no-sync", "--no-locale", "-E", "UTF8")));
        // who may log in over TCP: postgres freely, "sasl" with a SCRAM password, nobody else
        Files.writeString(data.resolve("pg_hba.conf"), """
                host all postgres 127.0.0.1/32 trust
                host all sasl 127.0.0.1/32 scram-sha-256
                host all all 127.0.0.1/32 reject
                """);
        pg.start(LocalService.asPostgresUser(List.of(LocalService.PG_BIN.resolve("postgres").toString(), "-D", data.toString(),
                "-k", pg.dir().toString(), "-h", "127.0.0.1", "-p", "" + pg.port(), "-c", "fsync=off")));
        int dead = Peers.deadPort();
        Fw fw = start("""
                backend pg
                    option pgsql-check user postgres
                    server ok 127.0.0.1:%1$d check
                    server wrongport 127.0.0.1:%2$d check
                backend rejected
                    option pgsql-check user nosuch
                    server s 127.0.0.1:%1$d check
                backend scram
                    option pgsql-check user sasl
                    server s 127.0.0.1:%1$d check
                """.formatted(pg.port(), dead));
        awaitStatus(fw, "pg", "ok", true, "L7OK");
        awaitStatus(fw, "scram", "s", true, "L7OK");
        awaitStatus(fw, "rejected", "s", false, "L7RSP");
        assertLogged(fw, "alert: Server rejected/s is DOWN, reason: Layer7 invalid response, info: \"FATAL\"");
        awaitStatus(fw, "pg", "wrongport", false, "L4CON");
        assertLogged(fw, refused("pg", "wrongport"));

        pg.stop();
        stoppedIsDown(fw, "pg");
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void mysqlCheckAgainstMariadb() throws Exception {
        Path mariadbd = Path.of("/usr/sbin/mariadbd");
        LocalService.assumeInstalled(mariadbd, "mariadb-server");
        LocalService my = cleanup.add(LocalService.prepare("mariadb"));
        Path data = my.dir().resolve("data");
        String user = System.getProperty("user.name");
        // root logs in without a password (not through the unix socket plugin): the check's user
        my.run(Duration.ofSeconds(40), List.of("mariadb-install-db", "--no-defaults", "--datadir=" + data, "--user=" + user,
                "--auth-root-authentication-method=normal", "--skip-test-db"));
        my.start(List.of(mariadbd.toString(), "--no-defaults", "--datadir=" + data, "--socket=" + my.dir().resolve("s"),
                "--port=" + my.port(), "--bind-address=127.0.0.1", "--user=" + user, "--skip-log-bin",
                "--innodb-buffer-pool-size=16M", "--pid-file=" + my.dir().resolve("pid")));
        int dead = Peers.deadPort();
        Path sock = my.dir().resolve("admin.sock");
        Fw fw = start("global\n    stats socket " + sock + " level admin\n", """
                backend my
                    option mysql-check user root
                    server ok 127.0.0.1:%1$d check
                    server wrongport 127.0.0.1:%2$d check
                backend unknown
                    option mysql-check user nosuch post-41
                    server s 127.0.0.1:%1$d check
                """.formatted(my.port(), dead));
        awaitStatus(fw, "my", "ok", true, "L7OK");
        awaitStatus(fw, "unknown", "s", false, "L7STS");
        assertLogged(fw, "alert: Server unknown/s is DOWN, reason: Layer7 wrong status, code: 1045, info: \"#28000Access denied for user 'nosuch'@'");
        awaitStatus(fw, "my", "wrongport", false, "L4CON");
        assertLogged(fw, refused("my", "wrongport"));
        // show stat as HAProxy's: the MySQL error number as check_code, a pass code 0, none at layer 4
        String stat = CliClient.ask(sock, "show stat\n");
        assertEquals(List.of("L7STS", "1045", "Layer7 wrong status"), cells(stat, "unknown", "s", "check_status", "check_code", "check_desc"));
        assertEquals(List.of("L7OK", "0"), cells(stat, "my", "ok", "check_status", "check_code"));
        assertEquals(List.of("L4CON", ""), cells(stat, "my", "wrongport", "check_status", "check_code"));

        my.stop();
        stoppedIsDown(fw, "my");
    }
}
