package org.forwarder.check;

/** HAProxy's descriptions of its check statuses (the "reason" of its log lines, show stat's check_desc). */
public final class CheckStatusText {
    private CheckStatusText() {}

    /**
     * Whether HAProxy shows a layer 5-7 code with this status (check_code, ", code: N" in the
     * log): a pass or a wrong status at layer 7, not a timeout nor an invalid response.
     */
    public static boolean hasCode(String status) {
        return "L7OK".equals(status) || "L7OKC".equals(status) || "L7STS".equals(status);
    }

    public static String reason(String status) {
        return switch (status) {
            case "INI" -> "Initializing";
            case "L4OK" -> "Layer4 check passed";
            case "L4CON" -> "Layer4 connection problem";
            case "L4TOUT" -> "Layer4 timeout";
            case "L7OK" -> "Layer7 check passed";
            case "L7RSP" -> "Layer7 invalid response";
            case "L7STS" -> "Layer7 wrong status";
            case "L7TOUT" -> "Layer7 timeout";
            case "SOCKERR" -> "Socket error";
            case "HANA" -> "Health analyze";
            default -> status;
        };
    }
}
