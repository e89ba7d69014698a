package org.forwarder;

import org.forwarder.sys.Syscalls;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleFinder;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The fence around the generated bindings: only native-bindings' own syscall layer names the
 * generated package. javac enforces it for this module (main and tests) through the module
 * descriptors; this test checks those descriptors still say so, and covers what javac cannot
 * see: the benchmarks, compiled on the class path, and the package's name in a string.
 */
class BindingsFenceTest {
    /** Spelled in two parts so that this file does not name it. */
    private static final String GENERATED = "org.forwarder." + "linux";

    @Test
    void nativeBindingsExportOnlyTheSyscallLayer() throws Exception {
        ModuleDescriptor nb = descriptor(Syscalls.class);
        assertEquals("org.forwarder.nativebindings", nb.name());
        Set<String> exported = nb.exports().stream()
                .map(e -> e.source() + (e.isQualified() ? " to " + e.targets() : ""))
                .collect(Collectors.toSet());
        assertEquals(Set.of("org.forwarder.sys"), exported, "native-bindings must export the syscall layer only");
        assertTrue(nb.opens().isEmpty() && !nb.isOpen(), "native-bindings must not open packages: " + nb.opens());
        assertTrue(nb.packages().contains(GENERATED), "the generated package is inside native-bindings");
    }

    @Test
    void theForwarderIsCompiledAsAModuleThatReadsTheBindingsModule() throws Exception {
        // without its descriptor javac would compile the forwarder on the class path: no fence
        ModuleDescriptor fw = descriptor(Forwarder.class);
        assertEquals("org.forwarder", fw.name());
        assertTrue(fw.requires().stream().anyMatch(r -> r.name().equals("org.forwarder.nativebindings")), fw.toString());
    }

    @Test
    void noSourceOutsideNativeBindingsNamesTheGeneratedPackage() throws IOException {
        Path root = Path.of("").toAbsolutePath().getParent(); // tests run in forwarder/
        List<Path> trees = List.of(root.resolve("forwarder/src"), root.resolve("bench/src"));
        List<String> found = new ArrayList<>();
        int files = 0;
        for (Path tree : trees) {
            assertTrue(Files.isDirectory(tree), "no source tree " + tree + ": run from the forwarder module");
            List<Path> sources;
            try (Stream<Path> s = Files.walk(tree)) {
                sources = s.filter(p -> p.toString().endsWith(".java")).sorted().toList();
            }
            for (Path p : sources) {
                files++;
                found.addAll(mentions(root.relativize(p).toString(), Files.readString(p, StandardCharsets.UTF_8)));
            }
        }
        assertTrue(files > 50, "only " + files + " sources found under " + trees);
        if (!found.isEmpty()) {
            fail("only native-bindings (org.forwarder.sys) may use the generated bindings; use org.forwarder.sys "
                    + "(FdConst, SockConst, Syscalls) or org.forwarder.io.Sock instead:\n  " + String.join("\n  ", found));
        }
    }

    @Test
    void theScanSeesCodeAndStringsButNotComments() {
        String src = """
                // a comment may say PKG
                /* and so may
                   PKG.Linux */
                import PKG.Linux;
                class X { String s = "/* not a comment */ PKG.epoll_event"; int a = '"'; // PKG
                  String t = \"""
                      // in a text block: PKG
                      \""";
                }
                """.replace("PKG", GENERATED);
        assertEquals(List.of("X.java:4: import PKG.Linux;",
                "X.java:5: class X { String s = \"/* not a comment */ PKG.epoll_event\"; int a = '\"'; // PKG",
                "X.java:7: // in a text block: PKG").stream().map(l -> l.replace("PKG", GENERATED)).toList(),
                mentions("X.java", src));
    }

    /** Lines of {@code text} that name the generated package outside comments, as "file:line: text". */
    static List<String> mentions(String file, String text) {
        String code = withoutComments(text);
        List<String> out = new ArrayList<>();
        String[] codeLines = code.split("\n", -1);
        String[] lines = text.split("\n", -1);
        for (int i = 0; i < codeLines.length; i++) {
            if (codeLines[i].contains(GENERATED)) out.add(file + ":" + (i + 1) + ": " + lines[i].strip());
        }
        return out;
    }

    /** {@code text} with comments blanked (line breaks kept, so line numbers hold); literals and text blocks left as they are. */
    private static String withoutComments(String text) {
        StringBuilder b = new StringBuilder(text.length());
        int n = text.length();
        int i = 0;
        while (i < n) {
            char c = text.charAt(i);
            char next = i + 1 < n ? text.charAt(i + 1) : 0;
            if (c == '/' && next == '/') {
                while (i < n && text.charAt(i) != '\n') i++;
            } else if (c == '/' && next == '*') {
                int end = text.indexOf("*/", i + 2);
                end = end < 0 ? n : end + 2;
                for (; i < end; i++) if (text.charAt(i) == '\n') b.append('\n');
            } else if (text.startsWith("\"\"\"", i)) {
                int end = text.indexOf("\"\"\"", i + 3);
                while (end > 0 && text.charAt(end - 1) == '\\') end = text.indexOf("\"\"\"", end + 1);
                end = end < 0 ? n : end + 3;
                b.append(text, i, end);
                i = end;
            } else if (c == '"' || c == '\'') {
                // a string or char literal: copy it up to its unescaped end
                b.append(c);
                i++;
                while (i < n && text.charAt(i) != c) {
                    if (text.charAt(i) == '\\' && i + 1 < n) b.append(text.charAt(i++));
                    b.append(text.charAt(i++));
                }
                if (i < n) b.append(text.charAt(i++));
            } else {
                b.append(c);
                i++;
            }
        }
        return b.toString();
    }

    /** The module descriptor of the jar or class directory {@code k} was loaded from. */
    private static ModuleDescriptor descriptor(Class<?> k) throws URISyntaxException {
        Path where = Path.of(k.getProtectionDomain().getCodeSource().getLocation().toURI());
        return ModuleFinder.of(where).findAll().stream().findFirst()
                .orElseThrow(() -> new AssertionError(where + " holds no module descriptor"))
                .descriptor();
    }
}
