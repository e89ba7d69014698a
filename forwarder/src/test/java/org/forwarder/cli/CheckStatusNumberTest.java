package org.forwarder.cli;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * show servers state's srv_check_status: HAProxy 2.6's HCHK_STATUS_* numbers (include/haproxy/check-t.h:
 * UNKNOWN 0, INI 1, START 2, CHECKED 3, HANA 4, SOCKERR 5, L4OK 6, L4TOUT 7, L4CON 8, L6OK 9,
 * L6TOUT 10, L6RSP 11, L7TOUT 12, L7RSP 13, L57DATA 14, L7OKD 15, L7OKCD 16, L7STS 17). Seen on
 * 2.6.12: a passing tcp-check expect shows 15.
 */
class CheckStatusNumberTest {
    @Test
    void numbersAsHaproxy26() {
        assertEquals(1, ServerCommands.checkStatusNumber(null), "INI before the first check");
        assertEquals(4, ServerCommands.checkStatusNumber("HANA"));
        assertEquals(5, ServerCommands.checkStatusNumber("SOCKERR"));
        assertEquals(6, ServerCommands.checkStatusNumber("L4OK"));
        assertEquals(7, ServerCommands.checkStatusNumber("L4TOUT"));
        assertEquals(8, ServerCommands.checkStatusNumber("L4CON"));
        assertEquals(12, ServerCommands.checkStatusNumber("L7TOUT"));
        assertEquals(13, ServerCommands.checkStatusNumber("L7RSP"));
        assertEquals(15, ServerCommands.checkStatusNumber("L7OK"), "L7OK is HCHK_STATUS_L7OKD");
        assertEquals(17, ServerCommands.checkStatusNumber("L7STS"));
    }
}
