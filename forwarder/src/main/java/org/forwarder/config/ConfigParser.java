package org.forwarder.config;

import org.forwarder.config.ProxyDraft.Kind;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Reads a configuration in HAProxy's syntax (the subset forwarder implements; see etc/forwarder.cfg).
 * The whole file is always read, so one run lists every error, each as {@code FILE:LINE: ...};
 * only input that is not a configuration at all (see LineReader, ConfigFile) stops it early.
 * Thread-safe: each parse uses its own state.
 */
public final class ConfigParser {

    private final Diagnostics diag;
    private final Tokenizer tokenizer;
    private final GlobalSection global;
    private final ProxyKeywords proxyKeywords;
    private final List<ProxyDraft> proxies = new ArrayList<>();
    private final Map<String, ProxyDraft> namedDefaults = new HashMap<>();

    /** The defaults new proxies copy: the last {@code defaults} section seen, or the built-in one. */
    private ProxyDraft defaults = new ProxyDraft();
    /** What the current lines belong to; exactly one of these is set once a section has started. */
    private ProxyDraft proxy;
    private boolean inGlobal;
    private boolean inOtherSection;

    private ConfigParser(String fileName, Function<String, String> env) {
        diag = new Diagnostics(fileName);
        tokenizer = new Tokenizer(env);
        global = new GlobalSection(diag);
        proxyKeywords = new ProxyKeywords(diag);
    }

    /** Parses the file at {@code file}; errors name the path as given. */
    public static Config parse(Path file) throws ConfigException {
        return parse(file, file.toString());
    }

    /** Parses the file at {@code file}, calling it {@code name} in messages (the name as the user gave it). */
    static Config parse(Path file, String name) throws ConfigException {
        try (InputStream in = ConfigFile.open(file, name)) {
            return new ConfigParser(name, System::getenv).run(new LineReader(in));
        } catch (IOException e) {
            throw ConfigFile.cannotRead(name, ConfigFile.reason(e));
        }
    }

    /** Parses {@code text}, naming it {@code fileName} in messages. */
    public static Config parse(String text, String fileName) throws ConfigException {
        return parse(text, fileName, System::getenv);
    }

    /** As {@link #parse(String, String)}, with environment variables for "$NAME" taken from {@code env}. */
    static Config parse(String text, String fileName, Function<String, String> env) throws ConfigException {
        // The same reader as for files, so the same limits and checks apply.
        try {
            return new ConfigParser(fileName, env).run(new LineReader(new ByteArrayInputStream(text.getBytes(StandardCharsets.UTF_8))));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private Config run(LineReader reader) throws IOException, ConfigException {
        LineReader.Line raw;
        while ((raw = reader.next()) != null) {
            int number = raw.number();
            if (raw.problem() != null) {
                lineUnusable();
                diag.errorAt(number, raw.problem());
                // What was read is not the whole file: checks of the whole (no server, no bind...) would mislead.
                if (raw.stop()) diag.throwIfErrors();
                continue;
            }
            List<String> words;
            try {
                words = tokenizer.split(raw.text());
            } catch (IllegalArgumentException e) {
                lineUnusable();
                String kw = plainFirstWord(raw.text());
                if (raw.badIndex() >= 0) {
                    diag.errorAt(number, notUtf8(raw));
                } else if (kw != null) {
                    diag.error(number, kw, e.getMessage());
                } else {
                    diag.errorAt(number, e.getMessage());
                }
                continue;
            }
            if (raw.badIndex() >= 0 && raw.badIndex() < tokenizer.codeEnd()) {
                // Not UTF-8 before the comment (if any): the words would hold U+FFFD, so say what it really is.
                lineUnusable();
                diag.errorAt(number, notUtf8(raw));
                continue;
            }
            if (!words.isEmpty()) line(new Line(number, words));
        }
        GlobalConfig g = global.resolve();
        Config config = new ConfigAssembler(diag).assemble(g, proxies);
        diag.throwIfErrors();
        return config;
    }

    /** The unreadable line may have been a bind or server: don't also report their absence. */
    private void lineUnusable() {
        if (proxy != null) {
            proxy.brokenBind = true;
            proxy.brokenServer = true;
        }
    }

    private static String notUtf8(LineReader.Line raw) {
        return "invalid UTF-8 " + raw.badNote() + ": the configuration must be UTF-8 text";
    }

    /** The first word of a line that failed to split, if it is plain enough to name the keyword; else null. */
    private static String plainFirstWord(String raw) {
        String first = raw.strip().split("[ \t]", 2)[0];
        for (int i = 0; i < first.length(); i++) {
            if ("'\"\\#$".indexOf(first.charAt(i)) >= 0) return null;
        }
        return first.isEmpty() ? null : first;
    }

    private void line(Line line) {
        String kw = line.first();
        Kind kind = Kind.fromKeyword(kw);
        if (kind != null) {
            startProxy(kind, line);
        } else if (kw.equals("global")) {
            startSection();
            inGlobal = true;
            if (line.words().size() > 1) diag.error(line.number(), kw, "takes no argument, got '" + line.word(1) + "'");
        } else if (Keywords.OTHER_SECTIONS.contains(kw)) {
            startSection();
            inOtherSection = true;
            diag.errorAt(line.number(), "section '" + kw + "' is not supported by forwarder (its lines are skipped)");
        } else if (inGlobal) {
            globalKeyword(line);
        } else if (proxy != null) {
            proxyKeyword(line);
        } else if (!inOtherSection) {
            diag.error(line.number(), kw, "appears before any section: start with 'global', 'defaults', 'listen', "
                    + "'frontend' or 'backend'");
        }
    }

    private void startSection() {
        proxy = null;
        inGlobal = false;
        inOtherSection = false;
    }

    /** Handles {@code KIND NAME [from DEFAULTS]}; {@code defaults} may omit the name. */
    private void startProxy(Kind kind, Line line) {
        startSection();
        List<String> args = line.args(1);
        String name = args.isEmpty() ? null : args.getFirst();
        boolean broken = false;
        if (name == null && kind != Kind.DEFAULTS) {
            diag.error(line.number(), kind.keyword, "expects a name, as in '" + kind.keyword + " web'");
            broken = true;
        } else if (name != null && !name.equals("from") && !proxyKeywords.checkName(line, kind.keyword, name)) {
            broken = true;
        }
        // "defaults from X" has no name: "from" then shifts.
        int fromAt = name != null && name.equals("from") && kind == Kind.DEFAULTS ? 0 : 1;
        if (fromAt == 0) name = null;
        // A proxy copies the defaults in effect; a new defaults section starts afresh from the
        // built-in values (HAProxy resets them), unless it names a parent with "from".
        ProxyDraft parent = kind == Kind.DEFAULTS ? new ProxyDraft() : defaults;
        if (args.size() > fromAt) {
            String word = args.get(fromAt);
            String parentName = args.size() > fromAt + 1 ? args.get(fromAt + 1) : null;
            if (!word.equals("from") || parentName == null || args.size() > fromAt + 2) {
                diag.error(line.number(), kind.keyword, "unexpected argument '" + word + "': expected '" + kind.keyword
                        + (kind == Kind.DEFAULTS ? " [NAME]" : " NAME") + " [from DEFAULTS]'");
                broken = true;
            } else if (namedDefaults.containsKey(parentName)) {
                parent = namedDefaults.get(parentName);
            } else {
                diag.error(line.number(), kind.keyword, "refers to defaults section '" + parentName + "', which does not exist"
                        + " (named defaults must come before their users)");
                broken = true;
            }
        }
        proxy = new ProxyDraft(kind, name == null ? "" : name, line.number(), parent);
        proxy.broken = broken;
        if (kind == Kind.DEFAULTS) {
            // A defaults section replaces the previous one for every proxy declared after it.
            defaults = proxy;
            if (name != null) namedDefaults.put(name, proxy);
        } else {
            proxies.add(proxy);
        }
    }

    private void globalKeyword(Line line) {
        String kw = line.first();
        if (GlobalSection.handles(kw)) {
            global.apply(line);
        } else if (ProxyKeywords.handles(kw)) {
            diag.error(line.number(), kw, "is only allowed in " + ProxyKeywords.allowedSections(kw) + ", not in 'global'");
        } else if (Keywords.globalUnsupported(kw)) {
            diag.error(line.number(), kw, Keywords.notSupported(kw));
        } else {
            diag.errorAt(line.number(), "unknown keyword '" + kw + "' in section 'global'");
        }
    }

    private void proxyKeyword(Line line) {
        String kw = line.first();
        if (ProxyKeywords.handles(kw)) {
            proxyKeywords.apply(proxy, line);
        } else if (GlobalSection.handles(kw) && !Keywords.PROXY_UNSUPPORTED.contains(kw)) {
            diag.error(line.number(), kw, "is only allowed in the 'global' section, not in '" + proxy.kind.keyword + "'");
        } else if (Keywords.PROXY_UNSUPPORTED.contains(kw)) {
            diag.error(line.number(), kw, Keywords.notSupported(kw));
        } else {
            diag.errorAt(line.number(), "unknown keyword '" + kw + "' in section '" + proxy.kind.keyword + "'");
        }
    }
}
