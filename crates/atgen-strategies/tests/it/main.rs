mod configs;
mod parity;
mod robustness;
