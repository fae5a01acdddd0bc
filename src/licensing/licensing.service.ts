import type { Db } from '../db/db';
import { CheckService } from './check.service';
import { ConsumptionService } from './consumption.service';
import { DeviceService } from './device.service';
import { LeaseService } from './lease.service';
import { SeatService } from './seat.service';

/**
 * Licensing enforcement: devices, seats, floating leases, metered consumption and checks.
 * Every limit is enforced inside one transaction, either under a lock on the entitlement
 * row (devices, seats, leases: count, then insert) or by an atomic conditional UPDATE of the
 * balance row (consume), so concurrent requests never exceed a limit.
 */
export class LicensingService {
  readonly devices: DeviceService;
  readonly seats: SeatService;
  readonly leases: LeaseService;
  readonly consumption: ConsumptionService;
  readonly checks: CheckService;

  constructor(db: Db, timeZone: string) {
    this.devices = new DeviceService(db);
    this.seats = new SeatService(db);
    this.leases = new LeaseService(db);
    this.consumption = new ConsumptionService(db, timeZone);
    this.checks = new CheckService(db, timeZone);
  }
}
