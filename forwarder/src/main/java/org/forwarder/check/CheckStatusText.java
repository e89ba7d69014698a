package org.forwarder.check;

/** HAProxy's descriptions of its check statuses (the "reason" of its log lines, show stat's check_desc). */
public final class CheckStatusText {
    private CheckStatusText() {}

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
