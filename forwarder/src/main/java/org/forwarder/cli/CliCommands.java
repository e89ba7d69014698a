package org.forwarder.cli;

import org.forwarder.config.StatsConfig.Level;

import java.util.ArrayList;
import java.util.List;

/**
 * The CLI's command table and its dispatch. A line is split into words; the command whose words
 * start it (the longest such) runs if the socket's level allows it, otherwise the answer is
 * HAProxy's "Permission denied". An unknown command gets HAProxy's answer to one: the list of
 * commands. Commands are grouped by what they touch, each group a class that adds its own here:
 * {@link StatsCommands} (figures), {@link ActivityCommands} (loops, pools, clearing figures),
 * {@link ServerCommands} (servers and limits),
 * {@link SessionCommands} (streams).
 *
 * <p>Levels are HAProxy's: user reads figures, operator also sees streams and clears maxima,
 * admin changes state. Every command runs on the control loop.
 */
final class CliCommands {
    static final String PERMISSION_DENIED = "Permission denied";

    private final List<CliCommand> table = new ArrayList<>();

    /** help, prompt and quit: always the last lines of a list, as HAProxy prints them. */
    private final List<CliCommand> always = new ArrayList<>();

    CliCommands(CliContext ctx) {
        new StatsCommands(ctx).addTo(this);
        new ActivityCommands(ctx).addTo(this);
        ServerCommands servers = new ServerCommands(ctx);
        servers.addTo(this);
        new SessionCommands(ctx, servers).addTo(this);
        table.sort(java.util.Comparator.comparing(CliCommand::usage));
        add(new String[] {"help"}, Level.USER, "help [<command>]", "list matching or all commands",
                (a, s) -> s.answer(list("The following commands are valid at this level:\n", a, 1)));
        add(new String[] {"prompt"}, Level.USER, "prompt", "toggle interactive mode with prompt", (a, s) -> {
            s.togglePrompt();
            s.answer("");
        });
        add(new String[] {"quit"}, Level.USER, "quit", "disconnect", (a, s) -> s.quit());
        always.addAll(table.subList(table.size() - 3, table.size()));
    }

    void add(String[] words, Level level, String usage, String help, CliCommand.Handler run) {
        table.add(new CliCommand(words, level, usage, help, run));
    }

    void run(String line, CliSession s) {
        String[] w = line.isEmpty() ? new String[0] : line.split("\\s+");
        if (w.length == 0) {
            s.answer(list("Unknown command. Please enter one of the following commands only:\n", w, 0));
            return;
        }
        CliCommand found = null;
        for (CliCommand c : table) {
            if (c.matches(w) && (found == null || c.words().length > found.words().length)) found = c;
        }
        if (found == null) {
            s.answer(list("Unknown command, but maybe one of the following ones is a better match:\n", w, 0));
            return;
        }
        if (s.level.compareTo(found.level()) < 0) { // before the arguments are looked at, as HAProxy
            s.answer(PERMISSION_DENIED + "\n");
            return;
        }
        try {
            found.run().run(w, s);
        } catch (CliError e) {
            s.answer(e.getMessage() + "\n");
        } catch (RuntimeException e) {
            // a bug in one command must not take the runtime API down: one line, and go on
            s.answer("Internal error in '" + String.join(" ", found.words()) + "': " + e + "\n");
        }
    }

    /**
     * {@code first}, then the commands that share the most leading words with {@code w} (from
     * word {@code from} on; all of them when none matches), then help, prompt and quit. Every
     * level sees every command, as in HAProxy: a command above the level answers "Permission
     * denied".
     */
    private String list(String first, String[] w, int from) {
        int best = 0;
        for (CliCommand c : table) best = Math.max(best, shared(c, w, from));
        StringBuilder sb = new StringBuilder(first);
        for (CliCommand c : table) {
            if (always.contains(c) || shared(c, w, from) < best) continue;
            line(sb, c);
        }
        for (CliCommand c : always) line(sb, c);
        return sb.toString();
    }

    private static int shared(CliCommand c, String[] w, int from) {
        int n = 0;
        while (n < c.words().length && from + n < w.length && c.words()[n].equals(w[from + n])) n++;
        return n;
    }

    private static void line(StringBuilder sb, CliCommand c) {
        sb.append(String.format("  %-40s: %s%n", c.usage(), c.help()));
    }
}
