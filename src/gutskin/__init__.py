"""gutskin: quantitative modelling of the gut-skin axis in acne."""

__version__ = "0.1.0"
