package org.forwarder.sys;

import org.forwarder.linux.Linux;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** FdConst and SockConst re-export the bindings' constants: each under its own name, none mixed up. */
class ConstTest {

    @Test
    void everyConstantIsTheBindingOfTheSameName() throws Exception {
        for (Class<?> k : new Class<?>[] {FdConst.class, SockConst.class}) {
            int n = 0;
            for (Field f : k.getDeclaredFields()) {
                int mod = f.getModifiers();
                if (!Modifier.isStatic(mod)) continue;
                assertTrue(Modifier.isPublic(mod) && Modifier.isFinal(mod) && f.getType() == int.class,
                        k.getSimpleName() + "." + f.getName() + " is not a public static final int");
                int expected = ((Number) Linux.class.getMethod(f.getName()).invoke(null)).intValue();
                assertEquals(expected, f.getInt(null), k.getSimpleName() + "." + f.getName() + " vs Linux." + f.getName() + "()");
                n++;
            }
            assertTrue(n >= 10, k.getSimpleName() + " has only " + n + " constants");
        }
    }
}
