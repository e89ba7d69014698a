package org.forwarder;

public final class Main {
    public static void main(String[] args) {
        System.out.println("forwarder");
    }
}
