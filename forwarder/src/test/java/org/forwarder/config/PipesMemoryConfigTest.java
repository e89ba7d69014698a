package org.forwarder.config;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code tune.pipes.memory}: the bytes that pipes larger than the kernel's default may take together. */
class PipesMemoryConfigTest {
    private static final String PROXY = "listen w\n    bind 127.0.0.1:1\n    server s 127.0.0.1:2\n";

    private static GlobalConfig global(String lines) throws ConfigException {
        return ConfigParser.parse("global\n" + lines + PROXY, "t.cfg").global();
    }

    @Test
    void upToOneGibibyte() throws ConfigException {
        assertEquals(1 << 30, global("    tune.pipes.memory 1g\n").pipesMemory());
    }

    @Test
    void parsedAsASizeAndDefaultWhenAbsent() throws ConfigException {
        assertEquals(GlobalConfig.PIPES_MEMORY_DEFAULT, global("").pipesMemory());
        assertEquals(GlobalConfig.PIPES_MEMORY_DEFAULT, GlobalConfig.defaults().pipesMemory());
        assertEquals(16 << 20, global("    tune.pipes.memory 16m\n").pipesMemory());
        assertEquals(0, global("    tune.pipes.memory 0\n").pipesMemory());
        assertEquals(1 << 20, global("    tune.pipesize 1m\n    tune.pipes.memory 1m\n").pipesMemory());
        assertEquals(0, global("    tune.pipesize 64k\n    tune.pipes.memory 0\n").pipesMemory(),
                "pipes of the kernel's size need no budget");
        assertEquals(7 << 20, global("    tune.pipes.memory 7m\n").withMaxpipes(3).pipesMemory());
    }

    @Test
    void badValuesNameFileLineAndKeyword() {
        Map<String, String> cases = Map.of(
                "    tune.pipes.memory lots\n", "t.cfg:2: 'tune.pipes.memory' 'lots' is not a valid size",
                "    tune.pipes.memory -1\n", "t.cfg:2: 'tune.pipes.memory' '-1' is not a valid size",
                "    tune.pipes.memory\n", "t.cfg:2: 'tune.pipes.memory' expects a size in bytes that pipes larger than"
                        + " the kernel's 64 KiB may take together (0 = none larger)",
                "    tune.pipes.memory 1m 2m\n", "t.cfg:2: 'tune.pipes.memory' takes exactly one argument",
                "    tune.pipes.memory 3g\n", "t.cfg:2: 'tune.pipes.memory' '3g' is out of range: expected 0 to 1073741824",
                "    tune.pipesize 1m\n    tune.pipes.memory 512k\n", "t.cfg:3: 'tune.pipes.memory' 524288 is smaller than"
                        + " one pipe of tune.pipesize (1048576), so no pipe could have that size",
                "    tune.pipes.memory 0\n    tune.pipesize 256k\n", "t.cfg:3: 'tune.pipesize' 262144 is larger than"
                        + " tune.pipes.memory (0), so no pipe could have that size");
        cases.forEach((lines, expected) -> {
            ConfigException e = assertThrows(ConfigException.class, () -> global(lines), lines);
            assertEquals(1, e.errors().size(), e.getMessage());
            assertTrue(e.errors().getFirst().startsWith(expected), () -> expected + "\nis not the start of\n" + e.getMessage());
        });
    }

    @Test
    void onlyInGlobal() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> ConfigParser.parse("listen w\n    tune.pipes.memory 1m\n    bind 127.0.0.1:1\n    server s 127.0.0.1:2\n", "t.cfg"));
        assertEquals(List.of("t.cfg:2: 'tune.pipes.memory' is only allowed in the 'global' section, not in 'listen'"), e.errors());
    }
}
