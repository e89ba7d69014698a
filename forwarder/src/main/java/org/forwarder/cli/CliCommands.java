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

    CliCommands(CliContext ctx) {
        add(new String[] {"help"}, Level.USER, "help [<command>]", "list matching or all commands", (a, s) -> s.answer(help(s.level, "")));
        add(new String[] {"prompt"}, Level.USER, "prompt", "toggle interactive mode with prompt", (a, s) -> {
            s.togglePrompt();
            s.answer("");
        });
        add(new String[] {"quit"}, Level.USER, "quit", "disconnect", (a, s) -> s.quit());
        new ActivityCommands(ctx).addTo(this);
        new StatsCommands(ctx).addTo(this);
        new ServerCommands(ctx).addTo(this);
        new SessionCommands(ctx).addTo(this);
    }

    void add(String[] words, Level level, String usage, String help, CliCommand.Handler run) {
        table.add(new CliCommand(words, level, usage, help, run));
    }

    void run(String line, CliSession s) {
        String[] w = line.isEmpty() ? new String[0] : line.split("\\s+");
        if (w.length == 0) {
            s.answer("");
            return;
        }
        CliCommand found = null;
        for (CliCommand c : table) {
            if (c.matches(w) && (found == null || c.words().length > found.words().length)) found = c;
        }
        if (found == null) {
            s.answer(help(s.level, "Unknown command, but maybe one of the following ones is a better match:\n"));
            return;
        }
        if (s.level.compareTo(found.level()) < 0) {
            s.answer(PERMISSION_DENIED + "\n");
            return;
        }
        try {
            found.run().run(w, s);
        } catch (CliError e) {
            s.answer(e.getMessage() + "\n");
        }
    }

    /** {@code first}, then a line for each command the level may run, as HAProxy lays them out. */
    private String help(Level level, String first) {
        StringBuilder sb = new StringBuilder(first.isEmpty() ? "The following commands are valid at this level:\n" : first);
        for (CliCommand c : table) {
            if (level.compareTo(c.level()) < 0) continue;
            sb.append(String.format("  %-40s: %s%n", c.usage(), c.help()));
        }
        return sb.toString();
    }
}
