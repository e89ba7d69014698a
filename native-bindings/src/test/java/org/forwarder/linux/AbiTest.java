package org.forwarder.linux;

import org.forwarder.sys.Syscalls;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.PaddingLayout;
import java.lang.foreign.StructLayout;
import java.lang.foreign.UnionLayout;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Checks the jextract-generated bindings against the C compiler of this machine.
 *
 * <p>The list of what to check is read from {@code jextract.args} at test time: every
 * {@code --include-constant}, every {@code --include-struct}/{@code --include-union} (and every
 * {@code --include-typedef} whose class has a layout), every {@code --include-function}. For each
 * group the fields are taken from the generated Java layout (padding skipped, nested groups
 * followed). A C program printing {@code name value} lines is generated from that, compiled with
 * {@code cc} against the same {@code forwarder_linux.h}, run, and every value compared with the
 * Java side. All mismatches are reported together.
 */
class AbiTest {
    private static final String PKG = "org.forwarder.linux.";
    private static final List<String> EXPECTED_GROUPS = List.of(
            "epoll_event", "epoll_data", "sockaddr", "sockaddr_in", "sockaddr_in6",
            "sockaddr_storage", "sockaddr_un", "in_addr", "in6_addr", "linger", "rlimit", "cpu_set_t");

    /** What jextract.args asks for. */
    record Args(List<String> constants, List<Group> groups, List<String> functions, List<String> defines) {}

    /** A struct, union or typedef: its name in jextract.args, how C spells the type, its kind. */
    record Group(String name, String cType, String kind) {}

    /** One field path inside a group, e.g. {@code __in6_u.__u6_addr8}. */
    record Field(List<String> path) {
        String dotted() { return String.join(".", path); }
        PathElement[] elements() {
            return path.stream().map(PathElement::groupElement).toArray(PathElement[]::new);
        }
    }

    /** Everything computed once: the args, the Java values and the C values. */
    record Run(Args args, Map<String, Long> java, Map<String, Long> javaIntConstants,
               Map<String, Long> c, List<String> problems) {}

    private static Run run;

    // ---- the tests -----------------------------------------------------------------------------

    @Test
    void layoutsAndConstantsMatchTheCCompiler() throws Exception {
        Run r = run();
        List<String> mismatches = new ArrayList<>(r.problems());
        mismatches.addAll(compare(r.java(), r.javaIntConstants(), r.c()));
        System.out.println("ABI: compared " + r.java().size() + " values (" + r.args().constants().size()
                + " constants, " + r.args().groups().size() + " structs/unions/typedefs, "
                + r.args().functions().size() + " functions declared) with the C compiler");
        assertTrue(mismatches.isEmpty(), () -> mismatches.size() + " ABI mismatch(es) between the bindings and "
                + "the C compiler:\n  " + String.join("\n  ", mismatches));
        // Make sure the check really covered what the brief names, and everything in the args.
        for (String k : List.of("sizeof(sockaddr_un)", "offsetof(sockaddr_un,sun_family)", "offsetof(sockaddr_un,sun_path)",
                "fieldsize(sockaddr_un,sun_path)")) {
            assertTrue(r.c().containsKey(k), k + " was not checked");
        }
        for (String g : EXPECTED_GROUPS) {
            assertTrue(r.c().containsKey("sizeof(" + g + ")"), "sizeof(" + g + ") was not checked");
        }
        for (String k : r.args().constants()) {
            assertTrue(r.c().containsKey(k), k + " was not checked");
        }
        for (String k : List.of("EPOLLIN", "EPOLLET", "SOCK_NONBLOCK", "F_SETPIPE_SZ", "EAGAIN", "EINPROGRESS", "AF_UNIX")) {
            assertTrue(r.args().constants().contains(k), "jextract.args was misread: no --include-constant " + k);
        }
    }

    @Test
    void epollEventSizeUsedBySyscallsMatchesC() throws Exception {
        Run r = run();
        Long c = r.c().get("sizeof(epoll_event)");
        assertNotNull(c, "C did not report sizeof(struct epoll_event)");
        assertEquals(c.longValue(), Syscalls.EPOLL_EVENT_SIZE,
                "Syscalls.EPOLL_EVENT_SIZE vs C sizeof(struct epoll_event)");
        assertEquals(c.longValue(), epoll_event.sizeof(), "epoll_event.sizeof() vs C");
        if ("amd64".equals(System.getProperty("os.arch")) || "x86_64".equals(System.getProperty("os.arch"))) {
            assertEquals(12, c.longValue(), "struct epoll_event is packed on x86_64");
            assertEquals(4, r.c().get("offsetof(epoll_event,data)"), "offsetof(struct epoll_event, data)");
        }
    }

    /** The comparison is only worth something if a wrong value makes it fail: tamper and see. */
    @Test
    void comparisonReportsEveryTamperedValue() throws Exception {
        Run r = run();
        assertTrue(compare(r.java(), r.javaIntConstants(), r.c()).isEmpty(), "precondition: untampered values match");

        Map<String, Long> c = new LinkedHashMap<>(r.c());
        c.put("EPOLLIN", c.get("EPOLLIN") + 1);
        c.put("offsetof(epoll_event,data)", 8L);
        c.put("sizeof(sockaddr_in6)", 32L);
        c.put("fieldsize(in6_addr,__in6_u.__u6_addr16)", 8L);
        c.remove("EINPROGRESS");
        List<String> m = compare(r.java(), r.javaIntConstants(), c);
        String all = String.join("\n", m);
        assertEquals(5, m.size(), all);
        for (String k : List.of("EPOLLIN", "offsetof(epoll_event,data)", "sizeof(sockaddr_in6)",
                "fieldsize(in6_addr,__in6_u.__u6_addr16)", "EINPROGRESS")) {
            assertTrue(all.contains(k), "tampering " + k + " went unnoticed:\n" + all);
        }

        // Tamper the Java side the same way (as a wrong jextract run would).
        Map<String, Long> java = new LinkedHashMap<>(r.java());
        java.put("SO_REUSEPORT", 16L);
        java.put("alignof(rlimit)", 4L);
        List<String> m2 = compare(java, r.javaIntConstants(), r.c());
        assertEquals(2, m2.size(), String.join("\n", m2));

        // The 32-bit pattern rule for int constants: EPOLLET is 1u << 31 in C and negative in Java.
        assertEquals(-2147483648L, r.java().get("EPOLLET"));
        assertEquals(2147483648L, r.c().get("EPOLLET"));
        Map<String, Long> c3 = new LinkedHashMap<>(r.c());
        c3.put("EPOLLET", 0x1_8000_0000L); // does not fit 32 bits: must not be accepted
        assertEquals(1, compare(r.java(), r.javaIntConstants(), c3).size());
    }

    // ---- comparison ----------------------------------------------------------------------------

    /**
     * Every key of {@code java} must be printed by C with the same value. An int-typed Java
     * constant matches a C value with the same 32-bit pattern (C's {@code 1u << 31} is Java's
     * {@code Integer.MIN_VALUE}); a C value wider than 32 bits never matches an int.
     */
    static List<String> compare(Map<String, Long> java, Map<String, Long> intConstants, Map<String, Long> c) {
        List<String> out = new ArrayList<>();
        for (Map.Entry<String, Long> e : java.entrySet()) {
            String key = e.getKey();
            long j = e.getValue();
            Long cv = c.get(key);
            if (cv == null) {
                out.add(key + ": Java has " + j + " but the C program printed no value");
                continue;
            }
            boolean same = cv == j;
            if (!same && intConstants.containsKey(key)) {
                boolean fits32 = cv >= Integer.MIN_VALUE && cv <= 0xFFFF_FFFFL;
                same = fits32 && (int) (long) cv == (int) j;
            }
            if (!same) {
                out.add(key + ": Java " + j + " (0x" + Long.toHexString(j) + "), C " + cv
                        + " (0x" + Long.toHexString(cv) + ")");
            }
        }
        return out;
    }

    // ---- building both sides, once ---------------------------------------------------------------

    private static synchronized Run run() throws Exception {
        if (run != null) return run;
        Path moduleDir = moduleDir();
        Path header = moduleDir.resolve("include/forwarder_linux.h");
        Args args = readArgs(moduleDir.resolve("jextract.args"));

        List<String> problems = new ArrayList<>();
        Map<String, Long> java = new LinkedHashMap<>();
        Map<String, Long> intConstants = new LinkedHashMap<>();
        StringBuilder body = new StringBuilder();

        // Constants: Linux.NAME() by reflection, (long long)(NAME) in C.
        for (String name : args.constants()) {
            body.append("    P(\"").append(name).append("\", (long long)(").append(name).append("));\n");
            Method m;
            try {
                m = Linux.class.getMethod(name);
            } catch (NoSuchMethodException e) {
                problems.add(name + ": listed with --include-constant but Linux." + name + "() does not exist");
                continue;
            }
            if (!Modifier.isStatic(m.getModifiers())) {
                problems.add(name + ": Linux." + name + "() is not static");
                continue;
            }
            Object v = m.invoke(null);
            if (v instanceof Integer i) {
                java.put(name, (long) i);
                intConstants.put(name, (long) i);
            } else if (v instanceof Long l) {
                java.put(name, l);
            } else if (v instanceof Short s) {
                java.put(name, (long) s);
            } else if (v instanceof Byte b) {
                java.put(name, (long) b);
            } else {
                problems.add(name + ": Linux." + name + "() returns " + m.getReturnType() + ", not an integer");
            }
        }

        // Structs, unions, typedefs with a layout: size, alignment, every field's offset and size.
        for (Group g : args.groups()) {
            GroupLayout layout = javaLayout(g, problems);
            if (layout == null) continue;
            if (g.kind().equals("struct") && !(layout instanceof StructLayout)) {
                problems.add(g.name() + ": --include-struct but the Java layout is " + layout);
            }
            if (g.kind().equals("union") && !(layout instanceof UnionLayout)) {
                problems.add(g.name() + ": --include-union but the Java layout is " + layout);
            }
            String t = g.cType();
            put(java, body, "sizeof(" + g.name() + ")", layout.byteSize(), "sizeof(" + t + ")");
            put(java, body, "alignof(" + g.name() + ")", layout.byteAlignment(), "_Alignof(" + t + ")");
            List<Field> fields = new ArrayList<>();
            collectFields(layout, List.of(), fields);
            if (fields.isEmpty()) problems.add(g.name() + ": the Java layout has no named fields");
            for (Field f : fields) {
                String key = g.name() + "," + f.dotted();
                put(java, body, "offsetof(" + key + ")", layout.byteOffset(f.elements()),
                        "offsetof(" + t + ", " + f.dotted() + ")");
                put(java, body, "fieldsize(" + key + ")", layout.select(f.elements()).byteSize(),
                        "sizeof(((" + t + " *)0)->" + f.dotted() + ")");
            }
        }

        // Functions: declared by the header for C, generated for Java.
        StringBuilder fnTable = new StringBuilder();
        for (String f : args.functions()) {
            fnTable.append("    (void (*)(void)) &").append(f).append(",\n");
            // jextract makes Linux.f$address() for a plain function, a class Linux.f for a variadic one.
            boolean found = Stream.of(Linux.class.getMethods()).anyMatch(m -> m.getName().equals(f + "$address"))
                    || Stream.of(Linux.class.getClasses()).anyMatch(k -> k.getSimpleName().equals(f));
            if (!found) problems.add(f + ": listed with --include-function but neither Linux." + f
                    + "$address() nor the variadic invoker class Linux." + f + " exists");
        }

        String source = "#include \"" + header.toAbsolutePath() + "\"\n"
                + "#include <stddef.h>\n"
                + "#include <stdio.h>\n"
                + "#define P(name, value) printf(\"%s %lld\\n\", name, (long long) (value))\n"
                + "static void (*const functions[])(void) = {\n" + fnTable + "    0\n};\n"
                + "int main(void) {\n"
                + "    P(\"function_count\", sizeof functions / sizeof functions[0] - 1);\n"
                + body
                + "    return 0;\n}\n";

        Map<String, Long> c = compileAndRun(source, args.defines());
        Long fnCount = c.get("function_count");
        if (fnCount == null || fnCount != args.functions().size()) {
            problems.add("function_count: C saw " + fnCount + ", jextract.args lists " + args.functions().size());
        }
        run = new Run(args, Collections.unmodifiableMap(java), Collections.unmodifiableMap(intConstants),
                Collections.unmodifiableMap(c), List.copyOf(problems));
        return run;
    }

    private static void put(Map<String, Long> java, StringBuilder body, String key, long javaValue, String cExpr) {
        java.put(key, javaValue);
        body.append("    P(\"").append(key).append("\", ").append(cExpr).append(");\n");
    }

    /** Named, non-padding members, following nested structs/unions (not arrays). */
    private static void collectFields(GroupLayout group, List<String> prefix, List<Field> out) {
        for (MemoryLayout m : group.memberLayouts()) {
            if (m instanceof PaddingLayout) continue;
            if (m.name().isEmpty()) continue; // an unnamed member cannot be named in offsetof
            List<String> path = new ArrayList<>(prefix);
            path.add(m.name().get());
            out.add(new Field(List.copyOf(path)));
            if (m instanceof GroupLayout nested) {
                collectFields(nested, path, out);
            }
        }
    }

    private static GroupLayout javaLayout(Group g, List<String> problems) throws IllegalAccessException {
        Class<?> cls;
        try {
            cls = Class.forName(PKG + g.name());
        } catch (ClassNotFoundException e) {
            problems.add(g.name() + ": listed with --include-" + g.kind() + " but class " + PKG + g.name() + " does not exist");
            return null;
        } catch (LinkageError e) { // e.g. a layout the FFM API rejects while initializing the class
            problems.add(g.name() + ": class " + PKG + g.name() + " cannot be initialized: " + e
                    + (e.getCause() == null ? "" : " caused by " + e.getCause()));
            return null;
        }
        Method layout;
        try {
            layout = cls.getMethod("layout");
        } catch (NoSuchMethodException e) {
            if (!g.kind().equals("typedef")) {
                problems.add(g.name() + ": class has no static layout()");
            }
            return null; // a typedef of a scalar or pointer has no layout to check
        }
        try {
            return (GroupLayout) layout.invoke(null);
        } catch (InvocationTargetException e) {
            problems.add(g.name() + ": layout() threw " + e.getCause());
            return null;
        }
    }

    // ---- inputs ----------------------------------------------------------------------------------

    /** The native-bindings module directory: Maven runs tests there; IDEs may run from the root. */
    static Path moduleDir() {
        List<Path> candidates = new ArrayList<>();
        String basedir = System.getProperty("basedir");
        if (basedir != null) candidates.add(Path.of(basedir));
        candidates.add(Path.of(""));
        candidates.add(Path.of("native-bindings"));
        for (Path p : candidates) {
            if (Files.isRegularFile(p.resolve("include/forwarder_linux.h")) && Files.isRegularFile(p.resolve("jextract.args"))) {
                return p.toAbsolutePath();
            }
        }
        return fail("cannot find include/forwarder_linux.h and jextract.args under any of " + candidates
                + " (cwd " + Path.of("").toAbsolutePath() + ")");
    }

    static Args readArgs(Path file) throws IOException {
        List<String> tokens = new ArrayList<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            String s = line.strip();
            if (s.isEmpty() || s.startsWith("#")) continue;
            tokens.addAll(List.of(s.split("\\s+")));
        }
        List<String> constants = new ArrayList<>();
        List<Group> groups = new ArrayList<>();
        List<String> functions = new ArrayList<>();
        List<String> defines = new ArrayList<>();
        for (int i = 0; i < tokens.size(); i++) {
            String opt = tokens.get(i);
            String val = i + 1 < tokens.size() ? tokens.get(i + 1) : null;
            switch (opt) {
                case "--include-constant" -> { constants.add(val); i++; }
                case "--include-struct" -> { groups.add(new Group(val, "struct " + val, "struct")); i++; }
                case "--include-union" -> { groups.add(new Group(val, "union " + val, "union")); i++; }
                case "--include-typedef" -> { groups.add(new Group(val, val, "typedef")); i++; }
                case "--include-function" -> { functions.add(val); i++; }
                case "-D", "--define-macro" -> { defines.add(val); i++; }
                default -> {
                    if (opt.startsWith("-D") && opt.length() > 2) defines.add(opt.substring(2));
                }
            }
        }
        return new Args(List.copyOf(constants), List.copyOf(groups), List.copyOf(functions), List.copyOf(defines));
    }

    // ---- the C side ------------------------------------------------------------------------------

    private static String findCompiler() {
        List<String> names = new ArrayList<>();
        String env = System.getenv("CC");
        if (env != null && !env.isBlank()) names.add(env.strip());
        names.addAll(List.of("cc", "gcc", "clang"));
        String path = System.getenv().getOrDefault("PATH", "/usr/local/bin:/usr/bin:/bin");
        for (String name : names) {
            if (name.contains("/")) {
                if (Files.isExecutable(Path.of(name))) return name;
                continue;
            }
            for (String dir : path.split(":")) {
                if (dir.isEmpty()) continue;
                Path p = Path.of(dir, name);
                if (Files.isRegularFile(p) && Files.isExecutable(p)) return p.toString();
            }
        }
        return null;
    }

    private static Map<String, Long> compileAndRun(String source, List<String> defines) throws Exception {
        String cc = findCompiler();
        assumeTrue(cc != null, "no C compiler (CC, cc, gcc or clang) found on PATH: the ABI of the bindings was NOT checked");
        Path dir = Files.createTempDirectory("forwarder-abi");
        try {
            Path src = dir.resolve("abi.c");
            Path exe = dir.resolve("abi");
            Files.writeString(src, source);
            List<String> cmd = new ArrayList<>(List.of(cc, "-std=gnu11", "-Wall", "-O0"));
            for (String d : defines) cmd.add("-D" + d);
            cmd.addAll(List.of("-o", exe.toString(), src.toString()));
            Exec compiled = exec(cmd, dir, "cc.out");
            if (compiled.exit() != 0 || !Files.isExecutable(exe)) {
                fail("compiling the ABI probe failed (" + String.join(" ", cmd) + " exited with "
                        + compiled.exit() + "):\n" + compiled.output() + "\n--- source ---\n" + source);
            }
            Exec ran = exec(List.of(exe.toString()), dir, "abi.out");
            if (ran.exit() != 0) fail("the ABI probe exited with " + ran.exit() + ":\n" + ran.output());
            String out = ran.output();
            Map<String, Long> values = new LinkedHashMap<>();
            for (String line : out.split("\n")) {
                if (line.isBlank()) continue;
                String[] kv = line.strip().split(" ");
                if (kv.length != 2) fail("unexpected line from the ABI probe: '" + line + "'");
                values.put(kv[0], Long.parseLong(kv[1]));
            }
            return values;
        } finally {
            try (Stream<Path> files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    record Exec(int exit, String output) {}

    /** Runs a command to completion (60 s at most) with its output in a file of {@code dir}. */
    private static Exec exec(List<String> cmd, Path dir, String outName) throws IOException, InterruptedException {
        Path outFile = dir.resolve(outName);
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(outFile.toFile()).redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                .start();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            p.waitFor(5, TimeUnit.SECONDS);
            fail(String.join(" ", cmd) + " did not finish in 60 s");
        }
        return new Exec(p.exitValue(), Files.readString(outFile, StandardCharsets.UTF_8));
    }
}
