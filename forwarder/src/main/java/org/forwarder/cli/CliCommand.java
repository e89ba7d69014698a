package org.forwarder.cli;

import org.forwarder.config.StatsConfig.Level;

/**
 * One runtime API command: the words that name it ({@code show servers state}), the level a
 * stats socket needs to run it, its line in {@code help}, and what it does. {@code run} gets
 * every word of the line (the naming words first) and answers through the session; an error is
 * thrown as a {@link CliError}, whose one line is the answer.
 */
record CliCommand(String[] words, Level level, String usage, String help, Handler run) {

    @FunctionalInterface
    interface Handler {
        void run(String[] args, CliSession s);
    }

    /** Whether this command's words start {@code args}. */
    boolean matches(String[] args) {
        if (args.length < words.length) return false;
        for (int i = 0; i < words.length; i++) if (!words[i].equals(args[i])) return false;
        return true;
    }
}
