package org.forwarder.sys;

import org.forwarder.linux.Linux;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ErrnoTest {

    /** Every public constant of Errno: its name as the key, read reflectively so none is forgotten. */
    private static Map<String, Integer> constants() throws IllegalAccessException {
        Map<String, Integer> m = new HashMap<>();
        for (Field f : Errno.class.getFields()) {
            if (Modifier.isStatic(f.getModifiers()) && f.getType() == int.class) {
                m.put(f.getName(), f.getInt(null));
            }
        }
        return m;
    }

    @Test
    void everyConstantComesFromTheBindingsAndHasItsOwnName() throws Exception {
        Map<String, Integer> all = constants();
        assertTrue(all.size() >= 28, "constants: " + all.keySet());
        Map<Integer, String> seen = new HashMap<>();
        for (Map.Entry<String, Integer> e : all.entrySet()) {
            String name = e.getKey();
            int v = e.getValue();
            assertTrue(v > 0, name + " = " + v);
            assertEquals(((Number) Linux.class.getMethod(name).invoke(null)).intValue(), v, name + " vs Linux." + name + "()");
            assertNull(seen.put(v, name), name + " has the same value as " + seen.get(v));
            assertEquals(name, Errno.name(v), "name(" + v + ")");
            assertEquals(name, Errno.name(-v), "name(-" + v + ")");
            assertTrue(Errno.describe(-v).startsWith(name), Errno.describe(-v));
        }
    }

    @Test
    void linuxNumbersOnX86_64() {
        // The classic numbers; the ABI test checks them against the C headers on any platform.
        assertEquals(9, Errno.EBADF);
        assertEquals(11, Errno.EAGAIN);
        assertEquals(98, Errno.EADDRINUSE);
        assertEquals(104, Errno.ECONNRESET);
        assertEquals(111, Errno.ECONNREFUSED);
        assertEquals(115, Errno.EINPROGRESS);
    }

    @Test
    void unknownNumbersAndDescriptions() {
        assertEquals("errno 9999", Errno.name(9999));
        assertEquals("errno 9999", Errno.name(-9999));
        assertEquals("errno 9999", Errno.describe(-9999));
        assertEquals("EADDRINUSE (address already in use)", Errno.describe(-Errno.EADDRINUSE));
        assertEquals("EMFILE (too many open files for this process: see ulimit -n)", Errno.describe(Errno.EMFILE));
        assertEquals("EAGAIN", Errno.describe(-Errno.EAGAIN));
    }
}
