package org.kerasdl.core;

/** A model contract that is unreadable, unsupported, or disagrees with the model or with what the app sends. */
public final class ContractException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public ContractException(String message) {
        super(message);
    }
}
