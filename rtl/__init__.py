"""SpikeCore rtl."""
