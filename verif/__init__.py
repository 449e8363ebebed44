"""SpikeCore verif."""
