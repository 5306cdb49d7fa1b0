"""Flashing firmware over serial: transports, bootloader protocols, images, a simulator."""
