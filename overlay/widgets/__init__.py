"""The overlay's widgets: video view, per-face gauge card, compact bar window, region picker, alert, log."""
